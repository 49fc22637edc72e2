// The annotate page's keyboard and the pictures of the selected candidate.
// A static file (never inline) so the content security policy can forbid inline scripts.
// Without JavaScript the page still works: radio buttons, a submit button, links.
"use strict";

(() => {
  const form = document.getElementById("vote-form");
  const page = document.querySelector(".annotate");
  if (!form || !page) return;
  const radios = Array.from(form.querySelectorAll('input[name="synset"]'));
  const memberSets = Array.from(document.querySelectorAll(".member-set"));
  const skipForm = document.getElementById("skip-form");
  const previousUrl = page.dataset.previousUrl;
  let sent = false;

  function current() {
    return radios.findIndex((radio) => radio.checked);
  }

  // Highlight the chosen row and show the other classes under it.
  function show() {
    const chosen = radios[current()];
    for (const radio of radios) {
      radio.closest(".candidate").classList.toggle("selected", radio === chosen);
    }
    for (const set of memberSets) {
      set.hidden = !chosen || set.dataset.for !== chosen.value;
    }
  }

  function select(index) {
    const radio = radios[Math.max(0, Math.min(radios.length - 1, index))];
    radio.checked = true;
    radio.closest(".candidate").scrollIntoView({ block: "nearest" });
    show();
  }

  // One vote per page: a second Enter while the next page loads sends nothing.
  function guardDoubleSubmit(event) {
    if (sent) event.preventDefault();
    sent = true;
  }

  // Keys typed into the comment box, or on a button or link, keep their usual meaning.
  function typing(target) {
    return target.matches("input[type=text], textarea, select, [contenteditable]");
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const onControl = event.target.matches("button, a, summary");
    const key = event.key;
    if (/^[1-9]$/.test(key)) {
      const index = radios.length - Number(key);  // 1 is the class itself, at the end
      if (index >= 0) select(index);
    } else if (key === "ArrowUp" || key === "ArrowLeft") {
      select(current() - 1);
    } else if (key === "ArrowDown" || key === "ArrowRight") {
      select(current() + 1);
    } else if (key === "Enter" && !onControl) {
      form.requestSubmit();
    } else if (key === "Backspace" && previousUrl) {
      window.location.assign(previousUrl);
    } else if (key === "s" || key === "S") {
      skipForm.requestSubmit();
    } else if (key === "d" || key === "D") {
      const definition = radios[current()]?.closest(".candidate").querySelector("details");
      if (definition) definition.open = !definition.open;
    } else {
      return;
    }
    event.preventDefault();
  }

  form.addEventListener("change", show);
  form.addEventListener("submit", guardDoubleSubmit);
  skipForm.addEventListener("submit", guardDoubleSubmit);
  // A page restored by the back button is a fresh chance to vote.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) sent = false;
  });
  document.addEventListener("keydown", onKey);
  show();
})();
