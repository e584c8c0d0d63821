// Carnet's guard inside Jupyter (issue 8; docs/proxy.md « Avant un arrêt, lecture seule »). Root-owned, loaded by
// custom.js on every page of the copy's own origin. It long-polls the proxy's <base_url>_carnet/events (answered by
// Carnet's proxy, never by Jupyter) and:
//   - before a stop (teacher, culling, deadline, quota, admin, the student's own stop), saves the notebook with
//     Jupyter's own API, or on the text editor's page (/edit/: a .py, a .csv) the file with the editor's own save,
//     then tells the proxy (POST _carnet/events/saved), which lets the stop go on;
//   - after the stop, shows in French why, with « Retour à ma copie », instead of Jupyter's English dialogs;
//   - for anyone but the copy's student (the teacher), shows « Lecture seule — la copie de … », whether the student
//     has the notebook open now, disables autosave and the kernel, and offers « Modifier quand même ».
// The proxy enforces all of it (refused writes, kernels, WebSockets): this file only makes it readable.
// Everything shown is set with textContent (never HTML).
define(["jquery", "base/js/namespace", "base/js/events", "base/js/dialog"], function ($, Jupyter, events, dialog) {
  "use strict";

  var base = (document.body && document.body.getAttribute("data-base-url")) || "/";
  if (!/^\/nb\/[A-Za-z0-9_-]+\/$/.test(base)) return {};
  var tab = (function () {
    var a = new Uint8Array(16);
    window.crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  })();
  var nb = Jupyter && Jupyter.notebook;
  var state = { v: undefined, view: null, handled: 0, stopping: false, final: false, overlay: null, bar: null, toast: null };
  var resolveFirst;
  var first = new Promise(function (r) { resolveFirst = r; });

  // ---------- Jupyter's own dialogs, once Carnet knows why the server goes ----------
  var origKernelModal = dialog.kernel_modal;
  var origModal = dialog.modal;
  function quiet() {
    return state.stopping || (state.view && state.view.readOnly);
  }
  try {
    dialog.kernel_modal = function () {
      if (quiet()) return $("<div/>");
      return origKernelModal.apply(this, arguments);
    };
    dialog.modal = function () {
      if (state.stopping) return $("<div/>");
      return origModal.apply(this, arguments);
    };
  } catch (err) {
    console.error("carnet-guard: Jupyter's dialogs not wrapped", err);
  }

  // ---------- read-only viewers: no kernel, no autosave ----------
  // The notebook object is sealed (Object.seal in nbclassic): its methods are replaced on its prototype.
  var proto = nb ? Object.getPrototypeOf(nb) : null;
  if (proto && typeof proto.start_session === "function") {
    var origStart = proto.start_session;
    proto.start_session = function () {
      var self = this, args = arguments;
      first.then(function (view) {
        if (view && view.readOnly) return; // no kernel for a read-only viewer (the proxy refuses it anyway)
        origStart.apply(self, args);
      });
    };
  }
  // The text editor's page (nbclassic's /edit/<path>) has no notebook: its edit/js/main.js sets Jupyter.editor (an
  // edit/js/editor Editor: save(check_last_modified), save_enabled, codemirror, generation), after custom.js is
  // asked for, so it is looked up when needed, never kept from load time.
  function textEditor() {
    var ed = Jupyter && Jupyter.editor;
    return ed && ed.codemirror && typeof ed.save === "function" ? ed : null;
  }
  function applyReadOnly() {
    if (!state.view || !state.view.readOnly) return;
    var ed = textEditor();
    if (ed) ed.save_enabled = false; // the proxy refuses the save anyway; no English error for the teacher
    if (!nb) return;
    nb.writable = false;
    if (typeof nb.set_autosave_interval === "function") nb.set_autosave_interval(0);
  }
  events.on("notebook_loaded.Notebook", function () {
    first.then(applyReadOnly);
  });
  // The editor enables its save once the file is loaded (Editor.load): after that, for a viewer, off again.
  events.on("file_loaded.Editor", function () {
    first.then(applyReadOnly);
  });

  // A save the proxy refused: Carnet's own words, not Jupyter's.
  events.on("notebook_save_failed.Notebook", function (_e, error) {
    var xhr = error && error.xhr;
    var body = xhr && xhr.responseJSON;
    var code = body && body.error && body.error.code;
    if (code === "deadline_passed") {
      stopped({ kind: "deadline", message: body.error.message });
    } else if (code === "read_only") {
      toast("Lecture seule : l'enregistrement est désactivé. Choisissez « Modifier quand même » pour enregistrer.");
    }
  });

  // ---------- UI ----------
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function style() {
    if (document.getElementById("carnet-guard-style")) return;
    var s = el("style", { id: "carnet-guard-style" });
    s.textContent =
      "#carnet-guard-overlay{position:fixed;inset:0;z-index:10000;background:rgba(17,24,39,.72);display:flex;align-items:center;justify-content:center;padding:1rem}" +
      "#carnet-guard-overlay .carnet-guard-box{background:#fff;color:#111827;max-width:32rem;width:100%;border-radius:.5rem;padding:1.5rem;font-size:16px;line-height:1.5;box-shadow:0 10px 30px rgba(0,0,0,.3)}" +
      "#carnet-guard-overlay h2{font-size:1.3rem;margin:0 0 .75rem}" +
      ".carnet-guard-button{display:inline-block;margin-top:1rem;padding:.55rem 1rem;border-radius:.4rem;background:#1d4ed8;color:#fff!important;border:0;font-size:15px;text-decoration:none;cursor:pointer}" +
      ".carnet-guard-button:hover,.carnet-guard-button:focus{background:#1e40af;outline:3px solid #93c5fd;outline-offset:2px}" +
      "#carnet-guard-bar{position:fixed;left:0;right:0;bottom:0;z-index:9000;background:#fef3c7;color:#1f2937;border-top:2px solid #b45309;padding:.45rem 1rem;font-size:14px;display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center}" +
      "#carnet-guard-bar strong{color:#78350f}" +
      "#carnet-guard-bar .carnet-guard-button{margin:0;padding:.3rem .8rem;font-size:14px}" +
      "#carnet-guard-toast{position:fixed;left:50%;transform:translateX(-50%);top:4.5rem;z-index:9500;background:#1f2937;color:#fff;padding:.6rem 1rem;border-radius:.4rem;font-size:15px;max-width:90vw}" +
      "body.carnet-guard-has-bar{padding-bottom:3rem}" +
      "body.carnet-guard-stopped #notification_area{visibility:hidden}";
    document.head.appendChild(s);
  }

  function toast(message) {
    style();
    if (!state.toast) {
      state.toast = el("div", { id: "carnet-guard-toast", role: "alert" });
      document.body.appendChild(state.toast);
    }
    state.toast.textContent = message;
  }

  function showOverlay(title, message, detail) {
    style();
    var o = state.overlay;
    if (!o) {
      o = state.overlay = el("div", { id: "carnet-guard-overlay" });
      var box = el("div", { class: "carnet-guard-box", role: "alertdialog", "aria-modal": "true", "aria-labelledby": "carnet-guard-title", "aria-describedby": "carnet-guard-message" });
      box.appendChild(el("h2", { id: "carnet-guard-title" }));
      box.appendChild(el("p", { id: "carnet-guard-message" }));
      box.appendChild(el("p", { id: "carnet-guard-detail" }));
      var back = el("a", { class: "carnet-guard-button", id: "carnet-guard-back", href: copyUrl() }, "Retour à ma copie");
      box.appendChild(back);
      o.appendChild(box);
      document.body.appendChild(o);
      setTimeout(function () { back.focus(); }, 0);
    }
    document.getElementById("carnet-guard-title").textContent = title;
    document.getElementById("carnet-guard-message").textContent = message;
    document.getElementById("carnet-guard-detail").textContent = detail || "";
    document.getElementById("carnet-guard-back").setAttribute("href", copyUrl());
  }

  function copyUrl() {
    return (state.view && state.view.copyUrl) || "/";
  }

  /** The server is going or gone: Carnet's page, Jupyter quiet. */
  function stopped(notice, detail) {
    state.stopping = true;
    state.final = true;
    document.body.classList.add("carnet-guard-stopped");
    $(".modal").modal("hide");
    if (nb) {
      if (typeof nb.set_autosave_interval === "function") nb.set_autosave_interval(0);
      if (proto) proto.save_notebook = function () { return Promise.resolve(); };
    }
    var ed = textEditor();
    if (ed) ed.save_enabled = false; // Ctrl+S after the stop: nothing to reach (and no "unsaved changes" prompt on leaving)
    var message = (notice && notice.message) || "Le serveur de ce carnet s'est arrêté.";
    var own = state.view && state.view.role === "student";
    showOverlay(own ? "Carnet arrêté" : "Carnet de l'élève arrêté", message, detail);
  }

  function updateBar(view) {
    if (view.role !== "teacher") {
      if (state.bar) { state.bar.remove(); state.bar = null; document.body.classList.remove("carnet-guard-has-bar"); }
      return;
    }
    style();
    if (!state.bar) {
      state.bar = el("div", { id: "carnet-guard-bar", role: "region", "aria-label": "Copie d'un élève" });
      state.bar.appendChild(el("strong", { id: "carnet-guard-mode" }));
      state.bar.appendChild(el("span", { id: "carnet-guard-presence", role: "status", "aria-live": "polite" }));
      var edit = el("button", { type: "button", class: "carnet-guard-button", id: "carnet-guard-edit" }, "Modifier quand même");
      edit.addEventListener("click", function () {
        var who = (state.view && state.view.student && state.view.student.name) || "l'élève";
        var ok = window.confirm(
          "Vos modifications seront enregistrées dans la copie de " + who + ". Si " + who +
          " a le carnet ouvert, l'un de vous peut écraser le travail de l'autre. Continuer ?"
        );
        if (ok) window.location.href = base + "_carnet/edit?next=" + encodeURIComponent(window.location.pathname + window.location.search);
      });
      state.bar.appendChild(edit);
      document.body.appendChild(state.bar);
      document.body.classList.add("carnet-guard-has-bar");
    }
    var name = (view.student && view.student.name) || "l'élève";
    document.getElementById("carnet-guard-mode").textContent = view.readOnly
      ? "Lecture seule — la copie de " + name
      : "Vous modifiez la copie de " + name;
    document.getElementById("carnet-guard-presence").textContent =
      view.student && view.student.open ? name + " a ce carnet ouvert en ce moment" : name + " n'est pas connecté(e)";
    document.getElementById("carnet-guard-edit").hidden = !view.readOnly;
  }

  // ---------- saving before a stop ----------
  function saveNow() {
    if (state.view && state.view.readOnly) return Promise.resolve(true);
    return Promise.all([saveNotebook(), saveTextEditor()]).then(function (oks) { return oks[0] && oks[1]; });
  }
  function saveNotebook() {
    if (!nb || !nb._fully_loaded || !nb.writable) return Promise.resolve(true);
    if (!nb.dirty) return Promise.resolve(true);
    // The student's open page wins: no "changed on disk" question while the server is about to go.
    return Promise.resolve(nb.save_notebook(false)).then(function () { return true; }, function () { return false; });
  }
  function saveTextEditor() {
    var ed = textEditor();
    // save_enabled is false until the file loaded (and after a load error: the buffer is then an error text).
    if (!ed || !ed.save_enabled) return Promise.resolve(true);
    if (ed.codemirror.isClean(ed.generation)) return Promise.resolve(true);
    // save(false): the open page wins, no "File changed on disk" dialog (whose promise would never settle).
    try {
      return Promise.resolve(ed.save(false)).then(function () { return true; }, function () { return false; });
    } catch (err) {
      return Promise.resolve(false);
    }
  }

  function acknowledge(id, ok) {
    return fetch(base + "_carnet/events/saved", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tab: tab, id: id, ok: ok }),
    }).catch(function () {});
  }

  function onNotice(view) {
    var n = view.notice;
    if (!n || n.id === state.handled) return;
    state.handled = n.id;
    if (n.phase === "warn") {
      toast(n.message);
      return;
    }
    if (n.phase === "save") {
      var deadline = n.kind === "deadline"; // the server runs until the deadline: say it, save, let them go on
      if (deadline) toast(n.message);
      else showOverlay("Arrêt du carnet…", n.message, view.readOnly ? "" : "Enregistrement de votre travail…");
      if (!deadline) state.stopping = true;
      saveNow().then(function (ok) {
        return acknowledge(n.id, ok).then(function () {
          if (!deadline) stopped(n, view.readOnly ? "" : ok ? "Votre travail est enregistré." : "Votre travail n'a pas pu être enregistré.");
        });
      });
      return;
    }
    if (n.phase === "stopped") stopped(n);
  }

  function onView(view) {
    var firstView = !state.view;
    state.view = view;
    if (firstView) {
      resolveFirst(view);
      applyReadOnly();
    }
    updateBar(view);
    onNotice(view);
    if (!view.running && !state.final) stopped(view.notice);
  }

  // The next poll starts straight from the previous answer, not from a timer: a hidden tab's timers are throttled
  // (once a minute after a while), and a page idle for an hour is exactly the one culling stops.
  function loop(delay) {
    if (delay > 0) return void setTimeout(function () { loop(0); }, delay);
    (function () {
      var url = base + "_carnet/events?tab=" + tab + (state.v === undefined ? "" : "&v=" + state.v);
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: { accept: "application/json" } })
        .then(function (res) {
          if (!res.ok) throw res.status;
          return res.json();
        })
        .then(function (view) {
          state.v = view.v;
          onView(view);
          if (!state.final) loop(0); // after the stop this page has nothing more to hear
        })
        .catch(function (status) {
          if (!state.view) resolveFirst(null); // the proxy decides anyway: do not hold Jupyter up
          loop(status === 401 || status === 404 ? 15000 : 2000);
        });
    })();
  }
  loop(0);

  return { tab: tab };
});
