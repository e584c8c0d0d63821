import { describe, expect, it } from "vitest";
import { parseSsoConfig, SsoConfigError } from "./config";

const cas = { id: "monlycee", name: "Monlycée.net", type: "cas", serverUrl: "https://ent.monlycee.net/cas/" };

describe("SSO configuration", () => {
  it("accepts one provider of each kind and fills defaults", () => {
    const c = parseSsoConfig(
      JSON.stringify({
        providers: [
          cas,
          { id: "ac-test", name: "Académie", type: "oidc", issuer: "https://idp.ac-test.fr/realms/ent", clientId: "carnet", clientSecret: "s" },
          { id: "neo", name: "NEO", type: "oauth2", preset: "edifice", baseUrl: "https://neo.example.fr", clientId: "carnet", clientSecret: "s" },
        ],
      }),
    );
    expect(c.providers[0]).toMatchObject({ serverUrl: "https://ent.monlycee.net/cas", version: "3", logout: true, roles: { teacher: [], student: [] } });
    expect(c.providers[1]).toMatchObject({ scope: "openid profile", userinfo: true });
    expect(c.providers[2]).toMatchObject({
      authorizationUrl: "https://neo.example.fr/auth/oauth2/auth",
      tokenUrl: "https://neo.example.fr/auth/oauth2/token",
      userinfoUrl: "https://neo.example.fr/auth/oauth2/userinfo",
    });
  });

  it("defaults to no provider", () => {
    expect(parseSsoConfig({}).providers).toEqual([]);
  });

  const bad: [string, unknown, string][] = [
    ["bad JSON", "{", "JSON invalide"],
    ["unknown type", { providers: [{ ...cas, type: "saml" }] }, "providers.0.type"],
    ["bad id", { providers: [{ ...cas, id: "Mon ENT" }] }, "providers.0.id"],
    ["reserved id", { providers: [{ ...cas, id: "local" }] }, "identifiant réservé"],
    ["duplicate id", { providers: [cas, cas] }, "en double"],
    ["not a URL", { providers: [{ ...cas, serverUrl: "ent.example.fr" }] }, "providers.0.serverUrl"],
    ["javascript URL", { providers: [{ ...cas, serverUrl: "javascript:alert(1)" }] }, "providers.0.serverUrl"],
    ["unknown key", { providers: [{ ...cas, sevrerUrl: "x" }] }, "sevrerUrl"],
    ["oauth2 without endpoints", { providers: [{ id: "x", name: "X", type: "oauth2", clientId: "a", clientSecret: "b" }] }, "authorizationUrl"],
    ["oidc without client", { providers: [{ id: "x", name: "X", type: "oidc", issuer: "https://idp" }] }, "clientId"],
  ];
  for (const [name, input, message] of bad) {
    it(`refuses ${name} with a clear message`, () => {
      expect(() => parseSsoConfig(input)).toThrow(SsoConfigError);
      expect(() => parseSsoConfig(input)).toThrow(message);
    });
  }
});
