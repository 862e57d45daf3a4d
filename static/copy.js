// Copy buttons for the clone URLs: an enhancement only; without script the URLs stay in
// selectable read-only fields. Served from /-/static/ so pages need no inline script (CSP).
"use strict";
for (const input of document.querySelectorAll("input[data-copy]")) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Copy";
  const done = (text) => {
    button.textContent = text;
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  };
  button.addEventListener("click", async () => {
    try {
      // Only secure contexts (https, localhost) have the async clipboard.
      await navigator.clipboard.writeText(input.value);
      done("Copied");
    } catch {
      input.select();
      done(document.execCommand("copy") ? "Copied" : "Press Ctrl+C");
    }
  });
  input.after(button);
}
