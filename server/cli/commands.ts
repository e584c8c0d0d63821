/**
 * The CLI's commands as functions returning text, so that they run either in the CLI process or, when the portal
 * holds the embedded database, inside the portal (POST /api/internal/cli, shared secret).
 */
import { z } from "zod";
import { db, ensureMigrated } from "../db";
import { createUser, setUserDisabled, usernameSchema } from "../users";
import { createToken } from "../auth/tokens";
import { AppError } from "../errors";
import { seedDemo } from "./seed";

export interface CommandInput {
  argv: string[];
  stdin?: string;
}

const roleSchema = z.enum(["teacher", "student", "admin"], { message: "--role doit valoir teacher, student ou admin" });

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) throw new AppError("bad_request", `${name} attend une valeur.`);
  return v;
}

export const USAGE = `Usage : ./carnet <commande>
  start                         installe ce qui manque, prépare la base, démarre le portail
  test                          installe ce qu'il faut aux tests et les lance tous
  user add <identifiant> --role teacher|student|admin [--name "Nom affiché"] [--class "2nde 3"] --password-stdin
  user disable|enable <identifiant>   désactive un compte (ses sessions et notebooks ouverts se ferment) ou le réactive
  token create <identifiant> [--name "nom du jeton"]
  seed                          ajoute des données de démonstration (enseignant, 3 élèves, une activité)
  migrate                       applique les migrations de la base
  servers stop-all              arrête tous les serveurs Jupyter des élèves (les fichiers restent)
Variables : PORT, CARNET_DATA_DIR, DATABASE_URL… (voir docs/configuration.md)`;

/** Runs one command; returns what to print. Throws AppError for bad usage. */
export async function runCommand({ argv, stdin }: CommandInput): Promise<string> {
  await ensureMigrated();
  const [a, b, ...rest] = argv;
  if (a === "user" && b === "add") {
    const username = usernameSchema.parse(rest[0] ?? "");
    const role = roleSchema.parse(flag(rest, "--role") ?? "");
    if (!rest.includes("--password-stdin")) throw new AppError("bad_request", "Donnez le mot de passe sur l'entrée standard avec --password-stdin.");
    const password = (stdin ?? "").replace(/\r?\n$/, "");
    const klass = flag(rest, "--class");
    const u = await createUser({ username, role: role.toUpperCase() as "TEACHER", name: flag(rest, "--name"), password, classes: klass ? [klass] : [] });
    return `Compte créé : ${u.username} (${role}).`;
  }
  if (a === "user" && (b === "disable" || b === "enable")) {
    const username = usernameSchema.parse(rest[0] ?? "");
    const user = await db().user.findUnique({ where: { username } });
    if (!user) throw new AppError("not_found", `Aucun compte « ${username} ».`);
    await setUserDisabled(user.id, b === "disable");
    return b === "disable" ? `Compte ${username} désactivé : ses sessions sont fermées.` : `Compte ${username} réactivé.`;
  }
  if (a === "token" && b === "create") {
    const username = usernameSchema.parse(rest[0] ?? "");
    const user = await db().user.findUnique({ where: { username } });
    if (!user) throw new AppError("not_found", `Aucun compte « ${username} ».`);
    const { token } = await createToken(user.id, flag(rest, "--name") ?? "ligne de commande");
    return token;
  }
  if (a === "seed") return seedDemo();
  if (a === "servers" && b === "stop-all") {
    const { stopAllServers } = await import("../servers/orchestrator");
    return `${await stopAllServers()} serveur(s) arrêté(s) ; les fichiers des élèves sont intacts.`;
  }
  if (a === "migrate") return "Base à jour.";
  throw new AppError("bad_request", USAGE);
}
