// The enable/disable toggle for an account, posted to the current route's action
// (intent "set-disabled"), used by the admin user list and the moderation page.
import { Form } from "@remix-run/react";

export function DisableUserButton({ userId, disabled }: { userId: string; disabled: boolean }) {
  return (
    <Form method="post">
      <input type="hidden" name="intent" value="set-disabled" />
      <input type="hidden" name="userId" value={userId} />
      <input type="hidden" name="disabled" value={disabled ? "false" : "true"} />
      <button type="submit" className={disabled ? "secondary" : "danger"}>{disabled ? "Enable" : "Disable"}</button>
    </Form>
  );
}
