// The session of the request being rendered (server components only).
import { cookies } from "next/headers";
import { SESSION_COOKIE, unseal, type Session } from "./session";

export async function currentSession(): Promise<Session | null> {
  return unseal((await cookies()).get(SESSION_COOKIE)?.value);
}
