// The printable invoice's Print button: a file rather than an inline handler, so that the
// Content-Security-Policy (scripts from this site only) lets it run.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".print-button").forEach(function (button) {
        button.addEventListener("click", function () { window.print(); });
    });
});
