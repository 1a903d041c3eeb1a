// Starts Swagger UI on /docs. An external file, so the page needs no inline script
// under the service's Content-Security-Policy; nothing here reaches another host.
(function () {
  "use strict";
  var openapiUrl = document.currentScript.dataset.openapiUrl;
  window.ui = SwaggerUIBundle({
    url: openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default validator badge asks a public service to check the document.
    validatorUrl: null,
    displayRequestDuration: true,
    showExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
})();
