/**
 * Jupyter on a Unix socket in a folder the student cannot change. Jupyter (running as the student's uid) must
 * create its socket, so the folder is the student's until then; once the socket is there, the folder is handed
 * to root (0711). From then on the student can neither remove the socket, nor put a symbolic link in its place
 * that would send the proxy (root) to another socket (Docker's, a database's), nor squat the path after a stop.
 */
import { chmod, chown, lstat, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { waitUntil } from "./proc";

/** Longest path of a Unix socket (sun_path is 108 bytes, NUL included). */
export const MAX_SOCKET_PATH = 107;

/**
 * A fresh, empty socket folder `dir` owned by uid:gid (0700), for Jupyter to create `name` in. Throws when the
 * socket path would be too long for the OS (a deep data directory): say so rather than fail later.
 */
export async function prepareSocketDir(dir: string, name: string, uid: number | undefined, gid: number | undefined): Promise<string> {
  const sock = path.join(dir, name);
  if (Buffer.byteLength(sock) > MAX_SOCKET_PATH)
    throw new Error(`the Unix socket path ${sock} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter data directory`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  await chmod(dir, 0o700);
  if (uid !== undefined && gid !== undefined) await chown(dir, uid, gid);
  return sock;
}

/**
 * Waits until the socket exists (Jupyter listens), then, when `uid` is given and we are root, makes its folder
 * root's (0711) and checks the entry is a socket owned by `uid`. Resolves with the address `unix:<sock>`.
 * Throws when the server died first, after `timeoutMs`, or when the entry is anything else.
 */
export async function sealSocket(sock: string, uid: number | undefined, isAlive: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<string> {
  let gone = false;
  let checked = Date.now();
  const appeared = await waitUntil(
    async () => {
      const st = await lstat(sock).catch(() => null);
      if (st) return true;
      // Asking whether the server lives may cost a Docker API call: not at every poll.
      if (Date.now() - checked < 200) return false;
      checked = Date.now();
      gone = !(await isAlive());
      return gone;
    },
    timeoutMs,
    20,
  );
  if (gone) throw new Error("Jupyter server exited before listening on its socket");
  if (!appeared) throw new Error(`Jupyter did not create its socket within ${timeoutMs} ms`);
  if (uid !== undefined && process.getuid?.() === 0) {
    const dir = path.dirname(sock);
    await chown(dir, 0, 0);
    await chmod(dir, 0o711);
    // The folder is root's now: what is in it can no longer change. Check it is what Jupyter made.
    const st = await lstat(sock);
    if (!st.isSocket() || st.uid !== uid) throw new Error(`${sock} is not a socket of uid ${uid}`);
  }
  return `unix:${sock}`;
}
