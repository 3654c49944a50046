// Small responses of the route handlers.
import { NextResponse } from "next/server";

// problem is a short HTML page for a sign-in that can't go on.
export function problem(status: number, message: string): NextResponse {
  const html = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Sign-in failed</title>
<main><h1>Sign-in failed</h1><p>${escape(message)}</p><p><a href="/auth/login">Sign in again</a> or go <a href="/">home</a>.</p></main></html>`;
  return new NextResponse(html, {
    status,
    headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" },
  });
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// redirect is a 303 (the next request is a GET) that no cache keeps.
export function redirect(to: URL): NextResponse {
  const response = NextResponse.redirect(to, 303);
  response.headers.set("Cache-Control", "no-store");
  return response;
}
