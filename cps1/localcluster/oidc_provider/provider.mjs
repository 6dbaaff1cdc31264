// A real OpenID Provider on loopback for CPS1's tests and `cps1 dev up`: panva/oidc-provider
// (OpenID Certified), with its own development login pages, static clients and test accounts
// that carry a `groups` claim. Usage: node provider.mjs <config.json>, where the file holds
// {"port": N, "clients": [...oidc-provider client metadata], "accounts": {"login": {claims}}}.
// Only for local use: any password signs a known login in (the dev interactions' rule).
import { readFileSync } from "node:fs";

import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const issuer = `http://127.0.0.1:${config.port}`;

const provider = new Provider(issuer, {
  clients: config.clients,
  async findAccount(ctx, id) {
    const claims = config.accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username"],
    groups: ["groups"],
  },
  scopes: ["openid", "email", "profile", "groups", "offline_access"],
  // The ID token carries the scopes' claims (the relying party reads groups from it).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  // First-party clients: no consent page, every requested scope and claim is granted.
  async loadExistingGrant(ctx) {
    const { client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope("openid email profile groups offline_access");
    await grant.save();
    return grant;
  },
  cookies: { keys: [config.cookieKey || "cps1-local-oidc-provider"] },
  ttl: { IdToken: config.idTokenSeconds || 3600 },
});

provider.listen(config.port, "127.0.0.1", () => {
  console.log(JSON.stringify({ message: "oidc-provider listening", issuer }));
});
