/**
 * The local backend's sandbox: how a server is started as root into its own namespaces before it becomes the
 * student. One pid all along (the one the state records): sh joins the cgroups, `unshare` gives it new mount,
 * network and IPC namespaces, a second sh mounts the private filesystems, `setpriv` drops to the student's uid
 * with no_new_privs and an empty capability bounding set, `prlimit` sets the rlimits, and Python execs Jupyter.
 *
 * Inside: only loopback (up, for the kernels' ZeroMQ channels), unless the server has Internet access (a veth
 * added from the host, see egress.ts); /tmp, /var/tmp and /run/lock on one size-limited tmpfs, /dev/shm on
 * another, HOME in /tmp/home; /proc with hidepid=invisible (the student sees only their own processes). The
 * namespaces, so the tmpfs and everything in it, die with the server's last process. Paths the server needs
 * under /tmp or /var/tmp (a data dir made by mktemp) are bound back into the new /tmp.
 */
import { readlinkSync } from "node:fs";
import path from "node:path";
import { waitUntil } from "./proc";

/** HOME inside the sandbox (on the private tmpfs). */
export const SANDBOX_HOME = "/tmp/home";

// Runs as root in the host namespaces: join the cgroups (before anything can fork), then unshare and exec the
// inner script. $1 is the inner script, the rest is the command. No secret is ever on these command lines.
const OUTER = `for f in $CARNET_CGROUP_PROCS; do echo $$ > "$f" || exit 70; done
unset CARNET_CGROUP_PROCS
inner=$1; shift
exec /usr/bin/unshare --mount --net --ipc --propagation private -- /bin/sh -c "$inner" carnet-sandbox "$@"`;

// Runs as root in the new namespaces, umask 022 for its own mounts whatever the portal's (066), then 077 for the
// student (as in the docker image). $CARNET_NS_STAGE is an empty root-only folder on the host where the tmpfs
// is mounted first (mode 0700: nobody but root walks through it), so that paths under /tmp can be bound into it
// before it covers /tmp (--rbind: with those binds). The cover of the folder that holds the stage comes last.
const INNER = `set -eu
IFS='
'
umask 022
s=$CARNET_NS_STAGE
ip link set lo up
mount -t tmpfs -o "size=\${CARNET_NS_TMP_MB}m,mode=0700,nosuid,nodev" carnet-tmp "$s"
mkdir -m 1777 "$s/tmp" "$s/var-tmp" "$s/lock"
mkdir -m 0700 "$s/tmp/home"
chown "$CARNET_NS_UID:$CARNET_NS_GID" "$s/tmp/home"
for k in $CARNET_NS_KEEP; do
  case "$k" in
    /tmp/*) d="$s/tmp/\${k#/tmp/}" ;;
    /var/tmp/*) d="$s/var-tmp/\${k#/var/tmp/}" ;;
    *) continue ;;
  esac
  mkdir -p "$d"
  mount --bind "$k" "$d"
done
mount -t tmpfs -o "size=\${CARNET_NS_SHM_MB}m,mode=1777,nosuid,nodev" carnet-shm /dev/shm
if [ -n "\${CARNET_NS_RESOLV:-}" ]; then mount --bind "$CARNET_NS_RESOLV" /etc/resolv.conf; fi
if [ -d /run/lock ]; then mount --bind "$s/lock" /run/lock; fi
case "$s" in
  /var/tmp/*) mount --rbind "$s/tmp" /tmp; mount --rbind "$s/var-tmp" /var/tmp ;;
  *) mount --rbind "$s/var-tmp" /var/tmp; mount --rbind "$s/tmp" /tmp ;;
esac
mount -t proc -o nosuid,nodev,noexec,hidepid=invisible carnet-proc /proc
if [ -n "\${CARNET_NS_WAIT:-}" ]; then
  read -r go || exit 71
  [ "$go" = go ] || exit 71
fi
exec </dev/null
unset CARNET_NS_STAGE CARNET_NS_TMP_MB CARNET_NS_SHM_MB CARNET_NS_KEEP CARNET_NS_UID CARNET_NS_GID CARNET_NS_RESOLV CARNET_NS_WAIT
umask 077
exec "$@"`;

/** What {@link sandboxCommand} needs. */
export interface SandboxPlan {
  /** cgroup.procs files to join. */
  cgroupProcs: string[];
  /** Empty root-owned folder on the host for the tmpfs's first mount (not under /tmp's or /dev/shm's siblings). */
  stage: string;
  /** Host paths that must stay reachable inside (work dir, runtime dir, Jupyter config). */
  keep: string[];
  tmpMb: number;
  shmMb: number;
  uid: number;
  gid: number;
  /** resolv.conf to bind over /etc/resolv.conf (servers with Internet access). */
  resolvConf?: string;
  /** Wait for "go" on stdin before exec (the host adds the veth meanwhile). */
  waitForGo: boolean;
  /** setpriv … python jupyter …: what runs once the sandbox is ready. */
  command: string[];
}

/** Paths nested in another kept path need no bind of their own (and must not get one through it). */
function outermost(paths: string[]): string[] {
  const sorted = [...new Set(paths.map((p) => path.resolve(p)))].sort();
  return sorted.filter((p, i) => !sorted.slice(0, i).some((q) => p.startsWith(q + "/")));
}

/**
 * The command and environment that start `plan.command` in the sandbox. The returned env entries must be merged
 * into the server's environment; the scripts unset them before Jupyter starts. Throws on a stage that could not
 * work (under /dev/shm or /run/lock, which are covered first).
 */
export function sandboxCommand(plan: SandboxPlan): { cmd: string; args: string[]; env: Record<string, string> } {
  const stage = path.resolve(plan.stage);
  if (/^\/(dev\/shm|run\/lock)(\/|$)/.test(stage)) throw new Error(`the state dir cannot be under /dev/shm or /run/lock (${stage})`);
  for (const k of plan.keep) if (/[\n]/.test(k)) throw new Error(`path with a newline: ${JSON.stringify(k)}`);
  const env: Record<string, string> = {
    CARNET_CGROUP_PROCS: plan.cgroupProcs.join(" "),
    CARNET_NS_STAGE: stage,
    CARNET_NS_KEEP: outermost(plan.keep).join("\n"),
    CARNET_NS_TMP_MB: String(plan.tmpMb),
    CARNET_NS_SHM_MB: String(plan.shmMb),
    CARNET_NS_UID: String(plan.uid),
    CARNET_NS_GID: String(plan.gid),
  };
  if (plan.resolvConf) env.CARNET_NS_RESOLV = plan.resolvConf;
  if (plan.waitForGo) env.CARNET_NS_WAIT = "1";
  return { cmd: "/bin/sh", args: ["-c", OUTER, "carnet-server", INNER, ...plan.command], env };
}

/** `setpriv` to the student: real, effective and saved uid/gid, no groups, no capability ever, no_new_privs. */
export function dropTo(uid: number, gid: number): string[] {
  return ["/usr/bin/setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--no-new-privs", "--bounding-set=-all", "--"];
}

/** Resolves once `pid` is in a network namespace of its own (unshare ran); false if it died or took too long. */
export function waitForOwnNetns(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const mine = readlinkSync("/proc/self/ns/net");
  return waitUntil(() => {
    try {
      return readlinkSync(`/proc/${pid}/ns/net`) !== mine;
    } catch {
      return true; // gone: the caller sees it die
    }
  }, timeoutMs, 5);
}
