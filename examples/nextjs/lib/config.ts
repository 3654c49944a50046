// The app's settings, read from the environment when first needed (never
// at build time: one build runs against any idp).
//
//   IDP_ISSUER         idp's issuer URL, e.g. https://id.example.com
//   IDP_CLIENT_ID      from `idp clients create ... --output json`
//   IDP_CLIENT_SECRET  printed once by the same command
//   APP_URL            where this app is served, e.g. https://app.example.com
//                      (the redirect URI is APP_URL/auth/callback)
//   SESSION_SECRET     32 random bytes, base64: `openssl rand -base64 32`
//   API_URL            the API /api-call calls (examples/go-service)

export type Config = {
  issuer: URL;
  clientId: string;
  clientSecret: string;
  appUrl: URL;
  sessionKey: Uint8Array;
  apiUrl: URL;
};

let cached: Config | undefined;

export function config(): Config {
  if (cached) return cached;
  const sessionKey = Buffer.from(required("SESSION_SECRET"), "base64");
  if (sessionKey.length !== 32) {
    throw new Error("SESSION_SECRET must be 32 bytes, base64-encoded (openssl rand -base64 32)");
  }
  cached = {
    issuer: new URL(required("IDP_ISSUER")),
    clientId: required("IDP_CLIENT_ID"),
    clientSecret: required("IDP_CLIENT_SECRET"),
    appUrl: new URL(required("APP_URL")),
    sessionKey: new Uint8Array(sessionKey),
    apiUrl: new URL(required("API_URL")),
  };
  return cached;
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (see examples/nextjs/README.md)`);
  return v;
}

// appPath turns a path of this app into an absolute URL on APP_URL, the
// origin idp knows (a request's Host header is not trusted for that).
export function appPath(path: string): URL {
  return new URL(path, config().appUrl);
}
