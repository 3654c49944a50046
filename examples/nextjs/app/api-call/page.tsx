// /api-call: calls the API (examples/go-service) from this server with the
// user's access token, which never leaves the server.
import { redirect } from "next/navigation";
import { config } from "../../lib/config";
import { currentSession } from "../../lib/current";

export default async function ApiCall() {
  const session = await currentSession();
  if (!session) redirect("/auth/login?return_to=/api-call");
  const url = new URL("/api/me", config().apiUrl);
  let status: number | string;
  let body: string;
  try {
    const res = await fetch(url, {
      headers: { Authorization: `Bearer ${session.accessToken}` },
      cache: "no-store",
      signal: AbortSignal.timeout(5000),
    });
    status = res.status;
    body = await res.text();
    try {
      body = JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      // not JSON: shown as it came
    }
  } catch (err) {
    status = "unreachable";
    body = err instanceof Error ? err.message : String(err);
  }
  return (
    <>
      <h1>API call</h1>
      <p>
        This server called <code>GET {url.href}</code> with your access token as{" "}
        <code>Authorization: Bearer</code>.
      </p>
      <dl>
        <dt>Status</dt>
        <dd id="status">{status}</dd>
        <dt>Access token valid until</dt>
        <dd id="access-expires">{new Date(session.expiresAt * 1000).toISOString()}</dd>
      </dl>
      <pre id="response">{body}</pre>
    </>
  );
}
