// App Bridge as the Shopify stand-in offers it to pages opened outside Shopify admin:
// `shopify.idToken()` answers a session token the stand-in mints for the page's shop, and a
// bounce page (one with `shopify-reload`) is reloaded with a fresh `id_token`.
(function () {
  "use strict";
  const standin = "__STANDIN_URL__";

  function shop() {
    const fromQuery = new URLSearchParams(window.location.search).get("shop");
    if (fromQuery) return fromQuery;
    const element = document.querySelector("[data-shop]");
    return element ? element.dataset.shop : "";
  }

  async function idToken() {
    const url = standin + "_standin/shops/" + encodeURIComponent(shop()) + "/session-token";
    const response = await fetch(url);
    if (!response.ok) throw new Error("the Shopify stand-in minted no session token");
    return (await response.json()).session_token;
  }

  window.shopify = { idToken: idToken, config: { shop: shop() } };

  const reload = new URLSearchParams(window.location.search).get("shopify-reload");
  if (reload) {
    idToken().then(function (token) {
      const target = new URL(reload);
      target.searchParams.set("id_token", token);
      window.location.replace(target.toString());
    });
  }
})();
