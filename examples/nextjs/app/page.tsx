export default function Home() {
  return (
    <>
      <h1>idp Next.js example</h1>
      <p>
        This page is public. <a href="/me">Me</a> shows the claims of your ID token and{" "}
        <a href="/api-call">API call</a> calls an API with your access token; both need you to sign in
        at idp. Your tokens stay on this app's server: the browser holds only an encrypted,
        HttpOnly cookie.
      </p>
    </>
  );
}
