/* Draw the figures built on the server (plotly JSON in <script type="application/json">) and
   offer a PNG download button beside each; without JavaScript the CSV links still work. */
(function () {
  "use strict";
  if (!window.Plotly) { return; }
  var holders = document.querySelectorAll("[data-figure]");
  holders.forEach(function (holder) {
    var figure = JSON.parse(document.getElementById(holder.getAttribute("data-figure")).textContent);
    var config = {
      responsive: true, displaylogo: false,
      toImageButtonOptions: {format: "png", filename: holder.getAttribute("data-filename"), scale: 2}
    };
    Plotly.newPlot(holder, figure.data, figure.layout, config).then(function () {
      holder.setAttribute("data-rendered", "true");
    });
  });
  document.querySelectorAll("button[data-png]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var holder = document.getElementById(button.getAttribute("data-png"));
      Plotly.downloadImage(holder, {format: "png", filename: holder.getAttribute("data-filename"), scale: 2});
    });
  });
}());
