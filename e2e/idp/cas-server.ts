/**
 * A real CAS 1/2/3 server for tests: Debian's python3-django-cas-server in a small Django project generated in a
 * temporary directory, with fixture users and their attributes, bound to 127.0.0.1 on a free port. Works offline.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CookieJar, freePort, stopChild, waitForHttp } from "./util";

const run = promisify(execFile);

export interface CasFixtureUser {
  username: string;
  password: string;
  attributes: Record<string, string | string[]>;
}

/** The default fixture: a teacher, a student and a user whose profile nobody knows. */
export const CAS_USERS: CasFixtureUser[] = [
  {
    username: "prof.cas",
    password: "prof-secret",
    attributes: {
      ENTPersonProfils: "National_ENS",
      displayName: "Jeanne Dupont",
      ENTPersonStructRattachUAI: "0750001A",
      ENTAuxEnsClasses: ["0750001A$2NDE3", "0750001A$1ERE2"],
    },
  },
  {
    username: "eleve.cas",
    password: "eleve-secret",
    attributes: { ENTPersonProfils: "National_ELV", givenName: "Léa", sn: "Martin", ENTPersonStructRattachUAI: "0750001A", ENTEleveClasses: "0750001A$2NDE3" },
  },
  {
    username: "inconnu.cas",
    password: "inconnu-secret",
    attributes: { ENTPersonProfils: "National_XYZ", displayName: "Profil Inconnu" },
  },
];

export interface CasServer {
  /** Base URL, e.g. http://127.0.0.1:PORT (login at /login, validation at /p3/serviceValidate). */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const PYTHON = "/usr/bin/python3";
const CLEAN_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", PYTHONDONTWRITEBYTECODE: "1" } as unknown as NodeJS.ProcessEnv;

/**
 * Starts django-cas-server. `servicePattern` is the regular expression of allowed service URLs (default: any
 * Carnet CAS callback on 127.0.0.1). Resolves when /login answers.
 */
export async function startCasServer(opts: { users?: CasFixtureUser[]; servicePattern?: string } = {}): Promise<CasServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-cas-"));
  const users = opts.users ?? CAS_USERS;
  const pattern = opts.servicePattern ?? "^http://127\\.0\\.0\\.1:[0-9]+/api/auth/cas/[a-z0-9-]+$";
  fs.writeFileSync(path.join(dir, "users.json"), JSON.stringify(users));
  fs.writeFileSync(
    path.join(dir, "fixture_auth.py"),
    `import json, os
from cas_server.auth import AuthUser
with open(os.path.join(os.path.dirname(__file__), "users.json"), encoding="utf-8") as f:
    USERS = {u["username"]: u for u in json.load(f)}

class FixtureAuthUser(AuthUser):
    def test_password(self, password):
        u = USERS.get(self.username)
        return bool(u) and u["password"] == password
    def attributs(self):
        return dict(USERS.get(self.username, {}).get("attributes", {}))
`,
  );
  fs.writeFileSync(
    path.join(dir, "settings.py"),
    `import os
BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "carnet-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                  "django.contrib.messages", "django.contrib.staticfiles", "cas_server"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.common.CommonMiddleware",
              "django.middleware.csrf.CsrfViewMiddleware", "django.contrib.auth.middleware.AuthenticationMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware"]
TEMPLATES = [{"APP_DIRS": True, "BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [],
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                 "django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages"]}}]
ROOT_URLCONF = "urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(BASE_DIR, "db.sqlite3")}}
USE_TZ = True
STATIC_URL = "/static/"
CAS_AUTH_CLASS = "fixture_auth.FixtureAuthUser"
CAS_NEW_VERSION_HTML_WARNING = False
CAS_NEW_VERSION_EMAIL_WARNING = False
CAS_SHOW_POWERED = False
CAS_LOGGED_TEMPLATE = "cas_server/bs4/logged.html"
`,
  );
  fs.writeFileSync(
    path.join(dir, "urls.py"),
    `from django.urls import include, re_path
urlpatterns = [re_path(r"^", include("cas_server.urls", namespace="cas_server"))]
`,
  );
  fs.writeFileSync(
    path.join(dir, "setup_services.py"),
    `import os, sys, django
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ["DJANGO_SETTINGS_MODULE"] = "settings"
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from cas_server.models import ServicePattern, ReplaceAttributName
sp = ServicePattern.objects.create(pos=1, name="carnet", pattern=sys.argv[1])
ReplaceAttributName.objects.create(name="*", service_pattern=sp)
`,
  );
  await run(PYTHON, [path.join(dir, "setup_services.py"), pattern], { cwd: dir, env: CLEAN_ENV, timeout: 120_000 });
  const port = await freePort();
  let log = "";
  const child: ChildProcess = spawn(
    PYTHON,
    ["-c", "import sys, os; sys.path.insert(0, os.getcwd()); os.environ['DJANGO_SETTINGS_MODULE']='settings'; from django.core.management import execute_from_command_line; execute_from_command_line(['manage', 'runserver', '--noreload', '--insecure', sys.argv[1]])", `127.0.0.1:${port}`],
    { cwd: dir, env: CLEAN_ENV, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  child.stderr?.on("data", (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/login`, { child, log: () => log, timeoutMs: 60_000 });
  } catch (e) {
    await stopChild(child);
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Signs in on the CAS login form like a browser and returns the service ticket the server issues for `service`.
 */
export async function casLoginTicket(casUrl: string, service: string, username: string, password: string): Promise<string> {
  const jar = new CookieJar();
  const loginUrl = `${casUrl}/login?service=${encodeURIComponent(service)}`;
  const page = await fetch(loginUrl, { redirect: "manual" });
  jar.store(page);
  const html = await page.text();
  const field = (name: string) => new RegExp(`name="${name}"[^>]*value="([^"]*)"`).exec(html)?.[1] ?? new RegExp(`value="([^"]*)"[^>]*name="${name}"`).exec(html)?.[1];
  const body = new URLSearchParams({ username, password, lt: field("lt") ?? "", csrfmiddlewaretoken: field("csrfmiddlewaretoken") ?? "", service });
  const res = await fetch(loginUrl, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header(), referer: loginUrl },
    body,
  });
  const location = res.headers.get("location");
  const ticket = location ? new URL(location).searchParams.get("ticket") : null;
  if (!ticket) throw new Error(`CAS login failed for ${username}: ${res.status} ${location ?? ""}`);
  return ticket;
}
