// The login page (/ui/login): trades an API key for the session cookie, then opens the page
// the user came from (only a dashboard page: `next` must start with /ui/).

const form = document.getElementById("login-form") as HTMLFormElement;
const input = document.getElementById("login-key") as HTMLInputElement;
const errorBox = document.getElementById("login-error") as HTMLElement;

/** Where to go after logging in: `?next=` when it is a dashboard page, else /ui/. */
export function nextPage(search: string): string {
  const next = new URLSearchParams(search).get("next");
  return next && next.startsWith("/ui/") && !next.startsWith("/ui//") && !next.includes("\\") ? next : "/ui/";
}

function showError(msg: string | null): void {
  errorBox.hidden = !msg;
  errorBox.textContent = msg ?? "";
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  showError(null);
  let resp: Response;
  try {
    resp = await fetch("/api/v1/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key: input.value.trim() }),
    });
  } catch (e) {
    showError(`cannot reach the server: ${(e as Error).message}`);
    return;
  }
  if (resp.ok) {
    location.assign(nextPage(location.search));
    return;
  }
  let reason = `server answered ${resp.status}`;
  try {
    const body = (await resp.json()) as { error?: { reason?: string } };
    if (body.error?.reason) reason = body.error.reason;
  } catch {
    // not JSON: keep the status
  }
  showError(resp.status === 401 ? "wrong or revoked key" : reason);
  input.select();
});

input.focus();
