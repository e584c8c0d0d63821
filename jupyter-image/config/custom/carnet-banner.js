// Carnet's banner inside Jupyter (issue 8; docs/spawner.md, "Carnet's banner"). Root-owned like custom.js, which
// loads it. One line at the top of the notebook and tree pages: « Carnet » back to « Mes copies », the activity's
// title, the deadline with the time left (live), the copy's state, and « Rendre ma copie » (saves the notebook, then
// opens the portal's hand-in confirmation page). Its data comes from GET <base_url>_carnet/info, answered by
// Carnet's proxy itself (never by this Jupyter server). Also: French dates (moment), lang="fr", and « Fermer et
// arrêter » leads back to Carnet instead of leaving a dead tab.
//
// This page is the copy's own origin: the student's code can change anything in it. The banner is a convenience,
// never a security boundary (the portal checks everything again), and it only ever shows text (textContent).
define(["jquery", "base/js/namespace", "base/js/events"], function ($, Jupyter, events) {
  "use strict";

  var baseUrl = decodeURIComponent(document.body.getAttribute("data-base-url") || "/");
  var info = null;
  var clockSkew = 0; // server time - browser time, ms
  var timer = null;
  var shown = "";

  document.documentElement.lang = "fr";
  require(["moment"], function (moment) {
    try {
      moment.locale("fr");
    } catch (e) {
      /* no French moment locale: English dates, nothing worse */
    }
  });

  var dateFmt = new Intl.DateTimeFormat("fr-FR", {
    timeZone: "Europe/Paris",
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  });

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }

  /** « 2 j 3 h », « 3 h 12 min », « 8 min 05 s » (shown after « il reste »); null once the deadline passed. */
  function timeLeft(ms) {
    if (ms <= 0) return null;
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400);
    var h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60);
    if (d > 0) return d + " j " + h + " h";
    if (h > 0) return h + " h " + two(m) + " min";
    return m + " min " + two(s % 60) + " s";
  }

  function say(text) {
    var live = document.getElementById("carnet-banner-status");
    if (live) live.textContent = text;
  }

  function tick() {
    var left = document.getElementById("carnet-time-left");
    if (!left || !info || !info.deadline) return;
    var ms = new Date(info.deadline).getTime() - (Date.now() + clockSkew);
    var text = timeLeft(ms);
    left.textContent = "";
    if (text) {
      left.appendChild(el("span", { class: "carnet-wide" }, "il reste "));
      left.appendChild(document.createTextNode(text));
    } else left.textContent = "date limite passée";
    left.className = "carnet-time-left" + (ms < 15 * 60 * 1000 ? " carnet-soon" : "");
  }

  /** Saves the open notebook (if any) and resolves once it is on disk; rejects with a French message. */
  function saveFirst() {
    var nb = Jupyter.notebook;
    if (!nb || typeof nb.save_notebook !== "function") return Promise.resolve();
    if (!nb.writable) return Promise.resolve();
    return new Promise(function (resolve, reject) {
      var done = false;
      var t = setTimeout(function () {
        if (done) return;
        done = true;
        reject(new Error("L'enregistrement ne s'est pas terminé. Enregistrez (Ctrl+S), puis réessayez."));
      }, 20000);
      Promise.resolve(nb.save_notebook()).then(
        function () {
          if (done) return;
          done = true;
          clearTimeout(t);
          resolve();
        },
        function (err) {
          if (done) return;
          done = true;
          clearTimeout(t);
          reject(new Error("L'enregistrement a échoué" + (err && err.message ? " (" + err.message + ")" : "") + " : votre copie n'a pas été rendue."));
        },
      );
    });
  }

  function leaveTo(url) {
    var nb = Jupyter.notebook;
    if (nb) nb.dirty = false; // saved just before: no "leave this page?" prompt
    window.onbeforeunload = null;
    window.location.assign(url);
  }

  function handIn(button) {
    button.disabled = true;
    say("Enregistrement du notebook…");
    saveFirst().then(
      function () {
        say("Notebook enregistré. Ouverture de la page pour rendre la copie…");
        leaveTo(info.handInUrl);
      },
      function (err) {
        button.disabled = false;
        say(err.message);
      },
    );
  }

  function render() {
    var old = document.getElementById("carnet-banner");
    if (old) old.parentNode.removeChild(old);
    var bar = el("div", { id: "carnet-banner", lang: "fr" });
    // Jupyter's shortcuts listen on the document (Enter edits the selected cell…): keys pressed on the banner's
    // links and button are theirs, not Jupyter's.
    bar.addEventListener("keydown", function (e) {
      e.stopPropagation();
    });
    var teacher = info.role === "teacher";

    var home = el("a", { class: "carnet-home", href: teacher ? info.copyUrl : info.myCopiesUrl }, "Carnet");
    home.appendChild(el("span", { class: "carnet-wide" }, teacher ? " · Retour à la copie" : " · Mes copies"));
    bar.appendChild(home);

    var title = el("span", { class: "carnet-title", title: info.title }, info.title);
    bar.appendChild(title);
    if (teacher) bar.appendChild(el("span", { class: "carnet-who carnet-wide" }, "Copie de " + info.studentName));

    if (info.deadline && info.state !== "SUBMITTED" && info.state !== "GRADED") {
      var dl = el("span", { class: "carnet-deadline", "data-testid": "carnet-deadline" });
      dl.appendChild(el("span", { class: "carnet-wide" }, "À rendre avant le " + dateFmt.format(new Date(info.deadline)) + " · "));
      dl.appendChild(el("span", { id: "carnet-time-left", class: "carnet-time-left", role: "timer" }));
      bar.appendChild(dl);
    }

    bar.appendChild(el("span", { class: "carnet-state carnet-state-" + info.state.toLowerCase(), "data-testid": "carnet-state" }, info.stateLabel));

    if (teacher && info.dashboardUrl) {
      bar.appendChild(el("a", { class: "carnet-action", href: info.dashboardUrl }, "Tableau de bord"));
    } else if (info.canHandIn) {
      var btn = el("button", { type: "button", class: "carnet-action", id: "carnet-hand-in" }, "Rendre");
      btn.appendChild(el("span", { class: "carnet-wide" }, " ma copie"));
      btn.addEventListener("click", function () {
        handIn(btn);
      });
      bar.appendChild(btn);
    }
    bar.appendChild(el("span", { id: "carnet-banner-status", class: "carnet-status", role: "status" }));

    var header = document.getElementById("header");
    if (header) header.insertBefore(bar, header.firstChild);
    else document.body.insertBefore(bar, document.body.firstChild);
    document.body.classList.add("carnet-has-banner");
    tick();
    if (timer) clearInterval(timer);
    if (info.deadline) timer = setInterval(tick, 1000);
    // Jupyter sizes its page from the header's height.
    events.trigger("resize-header.Page");
    $(window).trigger("resize");
  }

  function load() {
    return fetch(baseUrl + "_carnet/info", { credentials: "same-origin", headers: { accept: "application/json" }, cache: "no-store" })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      })
      .then(function (data) {
        if (data.now) clockSkew = new Date(data.now).getTime() - Date.now();
        var key = JSON.stringify($.extend({}, data, { now: null }));
        info = data;
        // Drawn again only when something changed (a redraw would take the focus away from the banner).
        if (key !== shown || !document.getElementById("carnet-banner")) render();
        shown = key;
      })
      .catch(function (err) {
        console.warn("carnet: banner not shown", err);
      });
  }

  /**
   * « Fermer et arrêter »: the kernel is stopped as Jupyter does, then back to Carnet (Jupyter calls window.close(),
   * which a tab the student opened cannot do: it stayed on a page with a dead kernel). The notebook object is sealed:
   * the method is replaced on its prototype.
   */
  var closeInstalled = false;
  function closeToCarnet() {
    var nb = Jupyter.notebook;
    if (!nb || closeInstalled) return;
    closeInstalled = true;
    var back = function () {
      leaveTo(info ? (info.role === "teacher" ? info.copyUrl : info.myCopiesUrl) : "/");
    };
    Object.getPrototypeOf(nb).close_and_halt = function () {
      var self = this;
      var stop = function () {
        if (self.session) self.session.delete(back, back);
        else back();
      };
      if (self.dirty && self.writable) saveFirst().then(stop, stop);
      else stop();
    };
  }

  /**
   * Accessibility of Jupyter's own page, where a small touch does it: cells have tabindex="2" (so Tab visits every
   * cell before the banner or the menus: 0 keeps them focusable in page order), CodeMirror's hidden textareas have no
   * name, the cell-type <select> says role="combobox" without the attributes that role needs (a <select> is one).
   */
  function a11y() {
    $(".cell[tabindex='2']").attr("tabindex", "0");
    $(".CodeMirror textarea:not([aria-label])").attr("aria-label", "Code de la cellule");
    $("#cell_type[role='combobox']").removeAttr("role").attr("aria-label", "Type de cellule");
    $(".output_subarea img:not([alt])").attr("alt", "Image produite par le code de la cellule");
    // The file list: the root folder's icon link, the select-all checkbox (inside a button that says it is one), the
    // file input named only by its title, each row's checkbox.
    $(".breadcrumb a")
      .filter(function () {
        return !$(this).text().trim() && !this.getAttribute("aria-label");
      })
      .attr("aria-label", "Dossier de la copie");
    $("#button-select-all[role='checkbox']").removeAttr("role");
    $("#select-all").attr({ "aria-label": "Tout sélectionner", "aria-hidden": "true" });
    $("#upload_span_input").attr({ "aria-label": "Téléverser des fichiers", "aria-hidden": "true" });
    $("#notebook_list .list_item input[type='checkbox']:not([aria-label])").each(function () {
      $(this).attr("aria-label", "Sélectionner " + $(this).closest(".list_item").find(".item_name").first().text());
    });
  }

  // At most once per 100 ms, however many outputs a running cell adds.
  var a11yPending = false;
  function a11ySoon() {
    if (a11yPending) return;
    a11yPending = true;
    setTimeout(function () {
      a11yPending = false;
      a11y();
    }, 100);
  }

  events.on("notebook_loaded.Notebook draw_notebook_list.NotebookList", a11y);
  events.on("create.Cell output_added.OutputArea output_appended.OutputArea", a11ySoon);
  events.on("notebook_loaded.Notebook", closeToCarnet);
  if (Jupyter.notebook && Jupyter.notebook._fully_loaded) {
    closeToCarnet();
    a11y();
  }
  $(a11y);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", load);
  else void load();
  // The state can move while the page is open (the teacher collects the copy, the deadline passes).
  setInterval(function () {
    if (document.visibilityState === "visible") void load();
  }, 60000);

  return { reload: load, timeLeft: timeLeft };
});
