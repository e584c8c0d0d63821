/**
 * The spawner's id of a copy's server. Spawner ids end up in container names and cgroup paths and must start with a
 * letter or a digit; copy ids are base64url (22 characters) and 2 in 64 start with "-" or "_". Those get an "x" in
 * front (23 characters: never another copy's id). All other ids are unchanged, so existing servers keep their names.
 */
export function serverIdOf(copyId: string): string {
  return /^[A-Za-z0-9]/.test(copyId) ? copyId : `x${copyId}`;
}
