// The admin page's actions. The page is rendered on the server; these handlers call the
// app's JSON API with a fresh App Bridge session token and update the page in place.
(function () {
  "use strict";

  async function sessionToken() {
    return window.shopify.idToken();
  }

  // Calls the admin API; retries once with a new token when the app asks for it.
  async function api(method, path, body) {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const headers = { Authorization: "Bearer " + (await sessionToken()) };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const retry = response.headers.get("X-Shopify-Retry-Invalid-Session-Request") === "1";
      if (response.status === 401 && retry && attempt === 0) continue;
      return response;
    }
    throw new Error("unreachable");
  }

  async function failure(response) {
    try {
      const body = await response.json();
      return body.message || "The request failed (" + response.status + ").";
    } catch (_) {
      return "The request failed (" + response.status + ").";
    }
  }

  function showError(text) {
    const error = document.getElementById("token-error");
    error.textContent = text;
    error.hidden = !text;
  }

  // The server's format for times: `2026-12-04 10:00 UTC`.
  function when(iso) {
    return iso ? iso.slice(0, 10) + " " + iso.slice(11, 16) + " UTC" : "never";
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function addRow(token) {
    const row = document.createElement("tr");
    row.dataset.tokenId = token.id;
    const id = document.createElement("td");
    const code = document.createElement("code");
    code.textContent = token.id;
    id.appendChild(code);
    const status = cell("active");
    status.className = "status";
    const actions = document.createElement("td");
    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "secondary revoke";
    revoke.dataset.tokenId = token.id;
    revoke.textContent = "Revoke";
    actions.appendChild(revoke);
    row.append(cell(token.label), id, cell(when(token.created_at)), cell(when(token.expires_at)),
      cell("never"), status, actions);
    document.getElementById("tokens").prepend(row);
    const empty = document.getElementById("no-tokens");
    if (empty) empty.remove();
  }

  document.getElementById("create-token").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    const form = event.target;
    const days = form.elements.expires_in_days.value;
    const response = await api("POST", "/app/api/tokens", {
      label: form.elements.label.value,
      expires_in_days: days === "" ? null : Number(days),
    });
    if (response.status !== 201) return showError(await failure(response));
    const created = await response.json();
    document.getElementById("new-token-value").textContent = created.token;
    document.getElementById("new-token").hidden = false;
    addRow(created);
    form.reset();
  });

  document.addEventListener("click", async (event) => {
    const revoke = event.target.closest("button.revoke");
    if (revoke) {
      showError("");
      const id = revoke.dataset.tokenId;
      const response = await api("DELETE", "/app/api/tokens/" + encodeURIComponent(id));
      if (response.status !== 204) return showError(await failure(response));
      const row = document.querySelector('tr[data-token-id="' + CSS.escape(id) + '"]');
      row.querySelector(".status").textContent = "revoked";
      revoke.remove();
      return;
    }
    const copy = event.target.closest("button[data-copy]");
    if (copy) {
      const text = document.querySelector(copy.dataset.copy).textContent;
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
      return;
    }
    const download = event.target.closest("button.download");
    if (download) {
      const response = await api("GET", "/app/api/exports/" + download.dataset.exportId);
      if (!response.ok) return showError(await failure(response));
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = "customer-data-" + download.dataset.exportId + ".json";
      link.click();
    }
  });
})();
