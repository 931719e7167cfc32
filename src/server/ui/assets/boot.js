// Loaded before the app modules as a classic script: records uncaught errors and
// rejected promises in window.__hfErrors, so a failed module load (which never runs
// app code) is still visible to users (a banner) and to the browser test.
(function () {
  'use strict';
  var errors = (window.__hfErrors = []);
  function show(msg) {
    errors.push(String(msg));
    var main = document.getElementById('main');
    if (!main) return;
    var p = document.createElement('p');
    p.className = 'error';
    p.setAttribute('role', 'alert');
    p.textContent = 'Internal error: ' + msg;
    main.prepend(p);
  }
  window.addEventListener('error', function (e) {
    // Resource errors (a broken <img>) have no message and are not script errors.
    if (e.message) show(e.message + (e.filename ? ' (' + e.filename + ':' + e.lineno + ')' : ''));
  });
  window.addEventListener('unhandledrejection', function (e) {
    var r = e.reason;
    show(r && r.stack ? r.stack : r);
  });
})();
