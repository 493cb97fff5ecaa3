// Error boundary body for routes: shows the 4xx reason the server gave.
import { isRouteErrorResponse, useRouteError } from "@remix-run/react";

export function RouteError() {
  const error = useRouteError();
  if (isRouteErrorResponse(error)) {
    const data = error.data as unknown;
    const message = typeof data === "object" && data && "error" in data ? String((data as { error: unknown }).error) : String(data ?? error.statusText);
    return (
      <div className="card notice error" role="alert">
        <strong>{error.status}</strong> {message}
      </div>
    );
  }
  return (
    <div className="card notice error" role="alert">
      Something went wrong. {error instanceof Error ? error.message : ""}
    </div>
  );
}
