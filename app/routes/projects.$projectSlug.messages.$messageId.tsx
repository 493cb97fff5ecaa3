import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { Conversation, MessageBubble } from "~/components/labeling/conversation.tsx";
import { MarkdownEditor } from "~/components/labeling/markdown-editor.tsx";
import { ReportForm } from "~/components/labeling/report-form.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { actionFailure, loaderFailure } from "~/models/labeling/http.server.ts";
import { reportMessage } from "~/models/labeling/moderation.server.ts";
import { showMessage } from "~/models/labeling/task-view.server.ts";
import { editOwnMessage } from "~/models/labeling/writing.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.project("label:project");
export const meta: MetaFunction = () => [{ title: "Message · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  try {
    return { project: project!, page: await showMessage(project!.id, params.messageId ?? "", viewer.id) };
  } catch (error) {
    return loaderFailure(error);
  }
}

const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("edit"), text: z.string() }),
  z.object({ intent: z.literal("report"), messageId: z.string(), reason: z.string(), text: z.string().optional() }),
]);

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const parsed = ActionSchema.safeParse(await readFormFields(request));
  if (!parsed.success) return badRequest({ error: "The form was incomplete.", fields: {}, done: null });
  try {
    if (parsed.data.intent === "edit") {
      await editOwnMessage(project!.id, params.messageId ?? "", viewer.id, parsed.data.text);
      return { error: null, fields: {}, done: "Your edit is saved; the previous text is kept in the history." };
    }
    await reportMessage(project!.id, parsed.data.messageId, viewer.id, { reason: parsed.data.reason, text: parsed.data.text });
    return { error: null, fields: {}, done: "Thank you: the moderators will look at it." };
  } catch (error) {
    return actionFailure(error);
  }
}

export default function MessagePage() {
  const { project, page } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <div className="stack">
      <p><Link to={`/projects/${project.slug}`}>← {project.name}</Link></p>
      <h1>Message</h1>
      <p className="muted">
        Tree {page.message.treeState.replaceAll("_", " ")} · review {page.message.reviewResult}
        {page.message.consensusRank !== null && ` · consensus rank ${page.message.consensusRank + 1}`}
      </p>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      {result && "done" in result && result.done && <p className="notice" role="status">{result.done}</p>}
      <Conversation messages={page.conversation} />
      <MessageBubble message={page.message} highlight />
      {page.editable && (
        <Form method="post" className="card stack" key={page.message.text}>
          <h2>Edit your message</h2>
          <input type="hidden" name="intent" value="edit" />
          <MarkdownEditor name="text" label="Your message" maxLength={page.maxMessageLength} defaultValue={page.message.text} />
          <button type="submit">Save edit</button>
        </Form>
      )}
      {!page.message.mine && <ReportForm messageId={page.message.id} />}
    </div>
  );
}

export const ErrorBoundary = RouteError;
