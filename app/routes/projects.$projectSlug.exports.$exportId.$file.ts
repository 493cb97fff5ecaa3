// Downloads one file of a finished export (a split file or manifest.json), streamed from disk.
import fs from "node:fs";
import { createReadableStreamFromReadable, json, type LoaderFunctionArgs } from "@remix-run/node";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { DatasetError } from "~/models/datasets/errors.server.ts";
import { exportFile } from "~/models/datasets/exports.server.ts";

export const access = accessOf.project("export:project");

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  try {
    const file = await exportFile(project!.id, params.exportId ?? "", params.file ?? "");
    return new Response(createReadableStreamFromReadable(fs.createReadStream(file.path)), {
      headers: {
        "Content-Type": file.contentType,
        "Content-Length": String(file.bytes),
        "Content-Disposition": `attachment; filename="${params.exportId}-${file.name}"`,
        "Cache-Control": "private, no-store",
      },
    });
  } catch (error) {
    if (error instanceof DatasetError) throw json({ error: error.message }, { status: error.status });
    throw error;
  }
}
