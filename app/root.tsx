import type { LinksFunction, LoaderFunctionArgs } from "@remix-run/node";
import {
  Form,
  isRouteErrorResponse,
  Link,
  Links,
  Meta,
  NavLink,
  Outlet,
  Scripts,
  ScrollRestoration,
  useLoaderData,
  useRouteError,
  useRouteLoaderData,
} from "@remix-run/react";
import type { ReactNode } from "react";
import { getViewer } from "~/auth/guard.server.ts";
import { useNonce } from "~/security/nonce.tsx";
import styles from "./styles.css?url";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "icon", href: "/favicon.svg", type: "image/svg+xml" },
];

// The root only reads who is signed in, to draw the header; each route checks its own access.
export async function loader({ request }: LoaderFunctionArgs) {
  const viewer = await getViewer(request);
  return { viewer: viewer && { displayName: viewer.displayName, role: viewer.role } };
}

function Header() {
  const data = useRouteLoaderData<typeof loader>("root");
  const viewer = data?.viewer;
  return (
    <header className="top">
      <Link to="/" className="brand">RLHF Studio</Link>
      <nav>
        {viewer && <NavLink to="/" end>Home</NavLink>}
        {viewer?.role === "admin" && (
          <>
            <NavLink to="/admin/projects">Projects</NavLink>
            <NavLink to="/admin/users">Users</NavLink>
            <NavLink to="/admin/models">Models</NavLink>
            <NavLink to="/admin/playground">Playground</NavLink>
            <NavLink to="/admin/audit">Audit</NavLink>
          </>
        )}
      </nav>
      {viewer ? (
        <Form method="post" action="/logout" className="session">
          <NavLink to="/account" title="Your account">{viewer.displayName}</NavLink>
          <button type="submit" className="secondary">Sign out</button>
        </Form>
      ) : (
        <nav className="session">
          <NavLink to="/login">Sign in</NavLink>
          <NavLink to="/signup">Sign up</NavLink>
        </nav>
      )}
    </header>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const nonce = useNonce();
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {/* Vite's dev client gives the <style> elements it injects this nonce. */}
        {import.meta.env.DEV && <meta property="csp-nonce" nonce={nonce} />}
        <Meta />
        <Links />
      </head>
      <body>
        <Header />
        <main>{children}</main>
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  useLoaderData<typeof loader>();
  return <Outlet />;
}

export function ErrorBoundary() {
  const error = useRouteError();
  if (isRouteErrorResponse(error)) {
    const message = typeof error.data === "object" && error.data && "error" in error.data ? String(error.data.error) : error.statusText;
    return (
      <div className="card">
        <h1>{error.status}</h1>
        <p>{message}</p>
      </div>
    );
  }
  return (
    <div className="card">
      <h1>Something went wrong</h1>
      <p className="muted">The error has been logged.</p>
    </div>
  );
}
