// The annotate page's keyboard, its candidate filter, its comment key, its key help
// and the pictures of the selected candidate.
// A static file (never inline) so the content security policy can forbid inline scripts.
// Without JavaScript the page still works: radio buttons, a submit button, links.
"use strict";

(() => {
  const form = document.getElementById("vote-form");
  const page = document.querySelector(".annotate");
  if (!form || !page) return;
  // In page order: the class itself first, the most general last.
  const radios = Array.from(form.querySelectorAll('input[name="synset"]'));
  const memberSets = Array.from(document.querySelectorAll(".member-set"));
  const skipForm = document.getElementById("skip-form");
  const filter = document.getElementById("chain-filter");
  const comment = document.getElementById("comment");
  const filterEmpty = form.querySelector(".filter-empty");
  const general = form.querySelector("details.more-general");
  const help = document.getElementById("key-help");
  const previousUrl = page.dataset.previousUrl;
  let sent = false;

  function current() {
    return radios.findIndex((radio) => radio.checked);
  }

  function row(radio) {
    return radio.closest(".candidate");
  }

  // Highlight the chosen row and show the other classes under it.
  function show() {
    const chosen = radios[current()];
    for (const radio of radios) row(radio).classList.toggle("selected", radio === chosen);
    for (const set of memberSets) set.hidden = !chosen || set.dataset.for !== chosen.value;
  }

  // The candidates a key can reach: those the filter leaves.
  function reachable() {
    return radios.filter((radio) => !row(radio).hidden);
  }

  // The focus follows the selection, as with a radio group's own arrow keys: Tab
  // then leads on to the comment box rather than from the top of the page.
  function choose(radio) {
    if (!radio) return;
    if (general && general.contains(radio)) general.open = true;
    radio.checked = true;
    radio.focus({ preventScroll: true });
    row(radio).scrollIntoView({ block: "nearest" });
    show();
  }

  // One step up (more specific, -1) or down (more general, +1) the list.
  function step(direction) {
    const shown = reachable();
    const at = shown.indexOf(radios[current()]);
    const next = at < 0 ? (direction > 0 ? 0 : shown.length - 1) : at + direction;
    choose(shown[Math.max(0, Math.min(shown.length - 1, next))]);
  }

  function applyFilter() {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let matches = 0;
    for (const radio of radios) {
      const text = row(radio).dataset.search + " " + row(radio).querySelector(".name").textContent.toLowerCase();
      const hit = words.every((word) => text.includes(word));
      row(radio).hidden = !hit;
      if (hit) matches += 1;
      if (hit && words.length && general && general.contains(radio)) general.open = true;
    }
    filterEmpty.hidden = matches > 0;
  }

  function clearFilter() {
    filter.value = "";
    applyFilter();
  }

  // One vote per page: a second Enter while the next page loads sends nothing.
  function guardDoubleSubmit(event) {
    if (sent) event.preventDefault();
    sent = true;
  }

  // Keys typed into the comment box, or on a button or link, keep their usual meaning.
  function typing(target) {
    return target.matches("input[type=text], input[type=search], textarea, select, [contenteditable]");
  }

  function onFilterKey(event) {
    if (event.key === "Enter") {
      event.preventDefault();  // Enter here picks the first match; it does not vote
      choose(reachable()[0]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      clearFilter();
      backToChain();
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      choose(reachable()[0]);
    }
  }

  // From the filter or the comment box back to the candidates, where the keys work.
  function backToChain() {
    (radios[current()] || radios[0]).focus();
  }

  // Enter in the comment box votes (the form's own submit); Escape leaves it.
  function onCommentKey(event) {
    if (event.key !== "Escape") return;
    event.preventDefault();
    backToChain();
  }

  function onKey(event) {
    if (help.open || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const onControl = event.target.matches("button, a, summary");
    const key = event.key;
    if (/^[1-9]$/.test(key)) {
      choose(radios[Number(key) - 1]);  // 1 is the class itself, at the top
    } else if (key === "ArrowUp" || key === "ArrowLeft") {
      step(-1);
    } else if (key === "ArrowDown" || key === "ArrowRight") {
      step(1);
    } else if (key === "Enter" && !onControl) {
      form.requestSubmit();
    } else if (key === "Backspace" && previousUrl) {
      window.location.assign(previousUrl);
    } else if (key === "s" || key === "S") {
      skipForm.requestSubmit();
    } else if (key === "/") {
      filter.focus();
    } else if (key === "c" || key === "C") {
      comment.focus();
    } else if (key === "Escape" && filter.value) {
      clearFilter();
    } else if (key === "?") {
      help.showModal();  // modal: focus stays inside, Escape closes it
    } else {
      return;
    }
    event.preventDefault();
  }

  // The modal dialog makes the page behind it inert; Tab also wraps around inside
  // it rather than leaving for the browser's own controls.
  function trapFocus(event) {
    if (event.key !== "Tab") return;
    const controls = Array.from(help.querySelectorAll("button, a[href], input"));
    const first = controls[0];
    const last = controls[controls.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      last.focus();
      event.preventDefault();
    } else if (!event.shiftKey && document.activeElement === last) {
      first.focus();
      event.preventDefault();
    }
  }

  form.addEventListener("change", show);
  help.addEventListener("keydown", trapFocus);
  form.addEventListener("submit", guardDoubleSubmit);
  skipForm.addEventListener("submit", guardDoubleSubmit);
  filter.addEventListener("input", applyFilter);
  filter.addEventListener("keydown", onFilterKey);
  comment.addEventListener("keydown", onCommentKey);
  document.getElementById("open-help").addEventListener("click", () => help.showModal());
  // A page restored by the back button is a fresh chance to vote.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) sent = false;
  });
  document.addEventListener("keydown", onKey);
  show();
})();
