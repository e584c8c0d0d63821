"use client";
import { useCallback, useMemo, useSyncExternalStore } from "react";

/**
 * The dashboard's selection of copies, per activity, kept in sessionStorage so that it survives changing page,
 * sorting and filtering (each of which is a navigation), and is forgotten when the tab is closed.
 * Falls back to memory when sessionStorage is unavailable (some private modes).
 */
const EVENT = "carnet:selection";
const memory = new Map<string, string>();
const keyOf = (activityId: string) => `carnet:selection:${activityId}`;

function read(key: string): string {
  try {
    return window.sessionStorage.getItem(key) ?? "[]";
  } catch {
    return memory.get(key) ?? "[]";
  }
}

function write(key: string, ids: string[]): void {
  const value = JSON.stringify(ids);
  try {
    if (ids.length === 0) window.sessionStorage.removeItem(key);
    else window.sessionStorage.setItem(key, value);
  } catch {
    memory.set(key, value);
  }
  window.dispatchEvent(new CustomEvent(EVENT, { detail: key }));
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener(EVENT, onChange);
  window.addEventListener("storage", onChange);
  return () => {
    window.removeEventListener(EVENT, onChange);
    window.removeEventListener("storage", onChange);
  };
}

function parse(raw: string): Set<string> {
  try {
    const v: unknown = JSON.parse(raw);
    return new Set(Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  } catch {
    return new Set();
  }
}

export interface CopySelection {
  selected: ReadonlySet<string>;
  toggle(id: string): void;
  /** Adds (on = true) or removes these ids, leaving the rest of the selection alone. */
  setMany(ids: string[], on: boolean): void;
  clear(): void;
}

/** The selected copy ids of one activity's dashboard, shared by every component and page of the tab. */
export function useCopySelection(activityId: string): CopySelection {
  const key = keyOf(activityId);
  const raw = useSyncExternalStore(
    subscribe,
    () => read(key),
    () => "[]",
  );
  const selected = useMemo(() => parse(raw), [raw]);
  const update = useCallback(
    (change: (s: Set<string>) => void) => {
      const s = parse(read(key));
      change(s);
      write(key, [...s]);
    },
    [key],
  );
  return useMemo(
    () => ({
      selected,
      toggle: (id) => update((s) => (s.has(id) ? s.delete(id) : s.add(id))),
      setMany: (ids, on) => update((s) => ids.forEach((id) => (on ? s.add(id) : s.delete(id)))),
      clear: () => update((s) => s.clear()),
    }),
    [selected, update],
  );
}
