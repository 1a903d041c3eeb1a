// Starts ReDoc on /redoc from an external file (no inline script under the CSP).
// ReDoc 3 ships as an ES module: this classic script imports it, so it can still
// read its own data attributes.
(function () {
  "use strict";
  var script = document.currentScript;
  import(script.dataset.redocUrl).then(function (redoc) {
    redoc.init(
      script.dataset.openapiUrl,
      { expandResponses: "200,201", pathInMiddlePanel: true },
      document.getElementById("redoc")
    );
  });
})();
