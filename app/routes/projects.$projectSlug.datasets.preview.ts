// How many rows an export would write with the Datasets page's current form (same field names as
// its query string), and what the filters leave out: read by the page before "Export" is pressed.
import { json, type LoaderFunctionArgs } from "@remix-run/node";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { DatasetError } from "~/models/datasets/errors.server.ts";
import { exportRequestFromForm } from "~/models/datasets/export-form.ts";
import { previewExport } from "~/models/datasets/export-preview.server.ts";

export const access = accessOf.project("export:project");

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  try {
    const preview = await previewExport(project!.id, exportRequestFromForm(new URL(request.url).searchParams));
    return json({ preview, error: null }, { headers: { "Cache-Control": "private, no-store" } });
  } catch (error) {
    if (error instanceof DatasetError) return json({ preview: null, error: error.message }, { status: error.status });
    throw error;
  }
}
