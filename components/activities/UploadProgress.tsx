/** The progress of an upload: a real <progress> with its label, then "checking" once every byte is sent. */
export function UploadProgress({ fraction }: { fraction: number }) {
  const pct = Math.round(fraction * 100);
  const label = pct < 100 ? `Envoi des fichiers… ${pct}\u00a0%` : "Fichiers envoyés, vérification du notebook…";
  return (
    <div className="space-y-1.5" aria-live="polite">
      <div className="flex justify-between text-sm font-medium text-slate-700">
        <span id="upload-progress-label">{label}</span>
      </div>
      <progress
        aria-labelledby="upload-progress-label"
        max={100}
        value={pct}
        className="h-3 w-full overflow-hidden rounded-full [&::-webkit-progress-bar]:bg-slate-200 [&::-webkit-progress-value]:bg-sky-700 [&::-moz-progress-bar]:bg-sky-700"
      />
    </div>
  );
}
