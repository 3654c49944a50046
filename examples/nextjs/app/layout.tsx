import Link from "next/link";
import type { ReactNode } from "react";
import { currentSession } from "../lib/current";
import { claims } from "../lib/session";
import "./style.css";

export const metadata = { title: "idp Next.js example" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const session = await currentSession();
  const who = session ? claims(session) : null;
  return (
    <html lang="en">
      <body>
        <header>
          <nav aria-label="Main">
            <Link href="/">Home</Link>
            {/* No prefetch: a prefetch of a private page would refresh
                tokens or start a sign-in nobody asked for. */}
            <Link href="/me" prefetch={false}>Me</Link>
            <Link href="/api-call" prefetch={false}>API call</Link>
          </nav>
          {who ? (
            <form method="post" action="/auth/logout">
              <span id="signed-in-as">{String(who.email ?? who.sub)}</span> <button type="submit">Sign out</button>
            </form>
          ) : (
            <a href="/auth/login">Sign in</a>
          )}
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
