// The metric add form's "Example event payload" box follows the fields as they are typed: the
// server builds the example from the same parsing as the form (nothing is saved).
"use strict";
(function () {
    let timer = null;
    function refresh(box, form) {
        const params = new URLSearchParams();
        ["aggregation_type", "aggregation_key", "event_types_in", "event_types_not_in",
         "property_filters", "group_keys"].forEach(function (name) {
            const field = form.elements.namedItem(name);
            if (field) {
                params.set(name, field.value);
            }
        });
        fetch(box.dataset.exampleUrl + "?" + params.toString(), {credentials: "same-origin"})
            .then(function (response) { return response.ok ? response.json() : null; })
            .then(function (json) {
                if (json) {
                    box.textContent = JSON.stringify(json.example, null, 2);
                    box.dataset.updated = String(Number(box.dataset.updated || 0) + 1);
                }
            });
    }
    document.addEventListener("DOMContentLoaded", function () {
        const box = document.getElementById("example-event-payload");
        if (!box || !box.dataset.exampleUrl) {
            return;
        }
        const form = box.closest("form");
        const later = function () {
            clearTimeout(timer);
            timer = setTimeout(function () { refresh(box, form); }, 250);
        };
        form.addEventListener("input", later);
        form.addEventListener("change", later);
        refresh(box, form);
    });
}());
