/**
 * The site's files are the portal's, not the students': students' servers run code under their own uids on the same
 * machine, so nothing under the data dir may be readable by them except their own copy folder. This module sets
 * the modes of the data dir tree at every start (and repairs what an older install, a restore or a hand-made
 * `chmod` left), and checks that students' uids can still reach the copies root.
 *
 *   <data>/            0711 root   (enter, not list)
 *     secrets/ pglite/ run/ proxy/   0700, everything below 0700 dirs / 0600 files, root-owned
 *     staging/ activities/          0700 (students never read versions: the portal copies them into copies/)
 *     anything else at the top      0700 (history/, backups…: private unless listed here)
 *     copies/          0711, each copy 0700 (owned by its uid once its server has started)
 *     servers/         0711, the spawner's runtime folders: local/ docker/ and per-server dirs 0711, root's files 0600
 *                      (servers/jupyter/, the read-only Jupyter config every server reads, is the spawner's: 0755/0644)
 *
 * Kept free of Next.js and of the database: `./carnet start` calls it before anything else runs.
 */
import fs from "node:fs";
import path from "node:path";

/**
 * The umask of every Carnet process (supervisor, Next.js, proxy, CLI): group and others never get read or write on
 * what we create (PGlite and Node default to 0666 files), but directories keep their execute bit, so code that
 * creates a folder 0711 for students to traverse (the spawner's runtime dirs) still gets 0711.
 */
export const SITE_UMASK = 0o066;

/** Sets SITE_UMASK on this process; a no-op where Node refuses it (worker threads). */
export function applySiteUmask(): void {
  try {
    process.umask(SITE_UMASK);
  } catch {
    /* worker thread: the main thread's umask applies */
  }
}

/** One change made to the tree, for the log. */
export interface Repair {
  path: string;
  change: string;
}

const PRIVATE_TREES = ["secrets", "pglite", "run", "proxy"] as const;
const PRIVATE_DIRS = ["staging", "activities"] as const;

const octal = (m: number) => "0" + (m & 0o7777).toString(8);

/**
 * Creates the site's folders and sets the modes above, at every start. Returns what it changed (empty when all was
 * right). Never follows a symbolic link (a link where a folder should be is reported, left alone). Idempotent.
 * Throws only if the data dir itself cannot be created or changed.
 */
export function prepareDataDir(dataDir: string): Repair[] {
  const repairs: Repair[] = [];
  const asRoot = process.getuid?.() === 0;
  const setMode = (p: string, st: fs.Stats, mode: number) => {
    if ((st.mode & 0o7777) === mode) return;
    fs.chmodSync(p, mode);
    repairs.push({ path: p, change: `${octal(st.mode)} -> ${octal(mode)}` });
  };
  const ownByRoot = (p: string, st: fs.Stats) => {
    if (!asRoot || (st.uid === 0 && st.gid === 0)) return;
    fs.lchownSync(p, 0, 0);
    repairs.push({ path: p, change: `owner ${st.uid}:${st.gid} -> 0:0` });
  };
  /** The folder `p`, created with `mode` if missing; null (reported) when something else is there. */
  const folder = (p: string, mode: number): fs.Stats | null => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      fs.mkdirSync(p, { mode });
      fs.chmodSync(p, mode); // mkdir's mode goes through the umask
      st = fs.lstatSync(p);
    }
    if (!st.isDirectory()) {
      repairs.push({ path: p, change: "not a folder (left alone: check it)" });
      return null;
    }
    ownByRoot(p, st);
    setMode(p, st, mode);
    return st;
  };
  const privateTree = (dir: string) => void repairs.push(...makePrivate(dir));

  // The data dir itself may be a link to another disk: its target is what gets the mode.
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  const top = fs.statSync(dataDir);
  if (asRoot && (top.uid !== 0 || top.gid !== 0)) {
    fs.chownSync(dataDir, 0, 0);
    repairs.push({ path: dataDir, change: `owner ${top.uid}:${top.gid} -> 0:0` });
  }
  setMode(dataDir, top, 0o711);

  for (const name of PRIVATE_TREES) {
    const p = path.join(/* turbopackIgnore: true */ dataDir, name); // a site folder, not a file of the app to trace
    // pglite/ exists only with the embedded database; it is created (0700) by server/db before PGlite writes to it.
    if (name === "pglite" && !fs.existsSync(p)) continue;
    if (folder(p, 0o700)) privateTree(p);
  }
  for (const name of PRIVATE_DIRS) folder(path.join(/* turbopackIgnore: true */ dataDir, name), 0o700);
  // Anything else at the top (history/, a backup, a future folder) is private too: only copies/ and servers/ are
  // meant to be crossed by students' uids.
  const known = new Set<string>([...PRIVATE_TREES, ...PRIVATE_DIRS, "copies", "servers"]);
  for (const name of fs.readdirSync(dataDir)) {
    if (known.has(name)) continue;
    const p = path.join(dataDir, name);
    const st = fs.lstatSync(p);
    if (st.isDirectory()) setMode(p, st, 0o700);
    else if (st.isFile()) setMode(p, st, st.mode & 0o700);
  }

  const copies = path.join(dataDir, "copies");
  if (folder(copies, 0o711)) {
    for (const name of fs.readdirSync(copies)) {
      const p = path.join(copies, name);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) setMode(p, st, 0o700);
      else repairs.push({ path: p, change: "not a copy folder (left alone: check it)" });
    }
  }

  const servers = path.join(dataDir, "servers");
  if (folder(servers, 0o711)) {
    // The backends' runtime folders; servers/jupyter (the spawner's read-only Jupyter config, meant to be read by
    // every student's server) is left as the spawner makes it.
    for (const backend of fs.readdirSync(servers).filter((n) => n === "local" || n === "docker")) {
      const b = path.join(servers, backend);
      const bst = fs.lstatSync(b);
      if (!bst.isDirectory()) continue;
      ownByRoot(b, bst);
      setMode(b, bst, 0o711);
      for (const id of fs.readdirSync(b)) {
        const r = path.join(b, id);
        const rst = fs.lstatSync(r);
        if (!rst.isDirectory()) continue;
        // A server's runtime folder: root's, traversable (the student's home/ and token file are below it).
        ownByRoot(r, rst);
        setMode(r, rst, 0o711);
        for (const f of fs.readdirSync(r)) {
          const p = path.join(r, f);
          const st = fs.lstatSync(p);
          // Root's own files (state, log) are private; what belongs to the student (home/, token) is theirs.
          if (st.isFile() && st.uid === process.getuid?.() && st.mode & 0o077) setMode(p, st, st.mode & 0o700);
        }
      }
    }
  }
  return repairs;
}

/**
 * Everything below `dir` becomes the portal's alone: folders 0700, files without group/other bits (0666 -> 0600),
 * root-owned when we are root. Symbolic links are neither followed nor changed. Returns what it changed.
 */
export function makePrivate(dir: string): Repair[] {
  const repairs: Repair[] = [];
  const asRoot = process.getuid?.() === 0;
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) continue;
    if (asRoot && (st.uid !== 0 || st.gid !== 0)) {
      fs.lchownSync(p, 0, 0);
      repairs.push({ path: p, change: `owner ${st.uid}:${st.gid} -> 0:0` });
    }
    const mode = st.isDirectory() ? 0o700 : st.mode & 0o700;
    if ((st.mode & 0o7777) !== mode) {
      fs.chmodSync(p, mode);
      repairs.push({ path: p, change: `${octal(st.mode)} -> ${octal(mode)}` });
    }
    if (st.isDirectory()) repairs.push(...makePrivate(p));
  }
  return repairs;
}

/** A folder on the way to the data dir that other users cannot traverse. */
export interface Blocked {
  folder: string;
  mode: string;
}

/**
 * The first folder, from `/` down to the data dir itself, that others cannot enter (no o+x), or null when students'
 * uids can reach `<data>/copies`. Symbolic links on the way are resolved (their targets' modes are what count).
 */
export function blockedFolder(dataDir: string): Blocked | null {
  const real = fs.realpathSync(dataDir);
  const chain: string[] = [];
  for (let p = real; ; p = path.dirname(p)) {
    chain.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of [...chain, path.join(real, "copies")]) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      continue; // copies/ not created yet
    }
    if ((st.mode & 0o001) === 0) return { folder: p, mode: octal(st.mode) };
  }
  return null;
}

/** The French explanation of a blocked folder, with the two ways out. */
export function blockedMessage(dataDir: string, b: Blocked): string {
  return (
    `Les serveurs des élèves ne pourront pas ouvrir leurs copies : le dossier « ${b.folder} » (droits ${b.mode}) ` +
    `ne laisse pas passer les autres utilisateurs, or chaque copie tourne sous son propre utilisateur Unix et doit ` +
    `traverser ce dossier pour atteindre ${path.join(dataDir, "copies")}.\n` +
    `Corrigez au choix :\n` +
    `  chmod o+x ${b.folder}        (traverser sans pouvoir lister : les fichiers restent privés)\n` +
    `  CARNET_DATA_DIR=/var/lib/carnet ./carnet start   (des données hors de ce dossier)\n`
  );
}
