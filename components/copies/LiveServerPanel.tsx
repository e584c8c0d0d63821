/**
 * ┌──────────────────────────────────────────────────────────────────────────┐
 * │ SLOT for the live Jupyter server (issue: spawner and proxy).             │
 * │ Placeholder: renders nothing. The spawner work replaces this component's │
 * │ body with the "Ouvrir dans Jupyter" panel (start, progress, open, stop). │
 * └──────────────────────────────────────────────────────────────────────────┘
 * It is rendered at the top of the copy page (app/copies/[id]/page.tsx) with everything it should need.
 */
export interface LiveServerPanelProps {
  copyId: string;
  /** True when the signed-in user is the copy's student (a teacher viewing the copy may get a read-only view). */
  isOwner: boolean;
  /** The notebook's path inside the copy folder, e.g. "Exercice élève n°1 l'été.ipynb". */
  notebookPath: string;
}

export function LiveServerPanel(_props: LiveServerPanelProps) {
  return null;
}
