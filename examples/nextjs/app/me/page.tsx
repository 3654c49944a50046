// /me: the claims of the ID token idp issued to this app. proxy.ts has
// made sure there is a session.
import { redirect } from "next/navigation";
import { currentSession } from "../../lib/current";
import { claims } from "../../lib/session";

export default async function Me() {
  const session = await currentSession();
  if (!session) redirect("/auth/login?return_to=/me");
  const entries = Object.entries(claims(session));
  return (
    <>
      <h1>Your claims</h1>
      <p>From the ID token idp issued to this app (scope openid email profile roles).</p>
      <table id="claims">
        <tbody>
          {entries.map(([name, value]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td>{typeof value === "string" ? value : JSON.stringify(value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
