// The game day board: follows the stream of its updates, and runs the timers of
// undetected injections between them. Served by pompier as /assets/board.js, so the
// pages' Content-Security-Policy allows no inline script.
(function () {
  var board = document.getElementById("board");
  var state = document.getElementById("stream-state");
  var source = new EventSource(board.getAttribute("data-stream"));
  source.addEventListener("board", function (e) { board.innerHTML = e.data; tick(); state.textContent = "Updated " + new Date().toLocaleTimeString(); });
  source.onerror = function () { state.textContent = "Reconnecting…"; };
  // Undetected injections' timers run between updates.
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var timers = board.querySelectorAll(".timer[data-since]");
    for (var i = 0; i < timers.length; i++) {
      var t = timers[i], until = t.getAttribute("data-until");
      var end = until ? Date.parse(until) : Date.now();
      var s = Math.max(0, Math.floor((end - Date.parse(t.getAttribute("data-since"))) / 1000));
      t.textContent = (s >= 3600 ? Math.floor(s / 3600) + ":" + pad(Math.floor(s % 3600 / 60)) : Math.floor(s / 60)) + ":" + pad(s % 60);
    }
  }
  tick();
  setInterval(tick, 1000);
})();
