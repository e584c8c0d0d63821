// Minimal typings for the parts of oidc-provider (no bundled types) the test IdP uses.
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";
  interface Grant {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    save(): Promise<string>;
  }
  interface GrantStatic {
    new (o: { clientId: string; accountId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }
  interface KoaContext {
    path: string;
    body: unknown;
    oidc: {
      provider: { Grant: GrantStatic };
      client?: { clientId: string };
      session?: { accountId?: string; grantIdFor(clientId: string): string | undefined };
    };
  }
  type Account = { accountId: string; claims(): Promise<Record<string, unknown>> };
  export default class Provider {
    constructor(issuer: string, config: Record<string, unknown> & {
      findAccount?: (ctx: KoaContext, sub: string) => Promise<Account | undefined>;
      loadExistingGrant?: (ctx: KoaContext) => Promise<Grant | undefined>;
    });
    Client: { prototype: { redirectUriAllowed(v: string): boolean; postLogoutRedirectUriAllowed(v: string): boolean } };
    use(mw: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
  }
}
