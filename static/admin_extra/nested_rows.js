// Add a row to a nested formset (a rate's tiers, a commit's access schedule) without a reload.
// The row comes from the <template> rendered by templates/admin/includes/nested_rows.html.
"use strict";
document.addEventListener("click", function (event) {
    const link = event.target.closest(".nested-rows-add");
    if (!link) {
        return;
    }
    event.preventDefault();
    const box = link.closest(".nested-rows");
    const total = box.querySelector("input[name$='-TOTAL_FORMS']");
    const prefix = total.name.slice(0, -"-TOTAL_FORMS".length);
    const emptyPrefix = box.dataset.emptyPrefix;
    const index = parseInt(total.value, 10);
    const row = box.querySelector("template").content.firstElementChild.cloneNode(true);
    row.querySelectorAll("[name], [id], [for]").forEach(function (el) {
        for (const attr of ["name", "id", "for"]) {
            const value = el.getAttribute(attr);
            if (value) {
                el.setAttribute(attr, value.split(emptyPrefix).join(prefix + "-" + index));
            }
        }
    });
    row.querySelector(".nested-rows-number").firstChild.textContent = String(index + 1);
    box.querySelector("tbody").appendChild(row);
    total.value = String(index + 1);
    if (typeof window.DateTimeShortcuts !== "undefined") {
        document.querySelectorAll(".datetimeshortcuts").forEach(function (el) { el.remove(); });
        window.DateTimeShortcuts.init();
    }
});

// Rows that only make sense for some choices (tiers of a TIERED rate) are shown only then:
// data-show-when="rate_type=TIERED other_field=VALUE" (any one match shows them).
function nestedRowsToggle(box) {
    const form = box.closest(".inline-related") || document;
    const shown = box.dataset.showWhen.split(" ").some(function (rule) {
        const [field, value] = rule.split("=");
        const input = form.querySelector("[name$='-" + field + "'], [name='" + field + "']");
        return input !== null && input.value === value;
    });
    // Rows already typed in (or with errors) stay visible, so they can be corrected or cleared.
    const filled = Array.from(box.querySelectorAll("tbody input")).some(function (input) {
        return input.type !== "hidden" && input.type !== "checkbox" && input.value !== "";
    });
    box.hidden = !(shown || filled || box.querySelector(".errorlist") !== null);
}

function nestedRowsToggleAll() {
    document.querySelectorAll(".nested-rows[data-show-when]").forEach(nestedRowsToggle);
}

document.addEventListener("change", function (event) {
    const form = event.target.closest(".inline-related");
    if (form) {
        form.querySelectorAll(".nested-rows[data-show-when]").forEach(nestedRowsToggle);
    }
});
document.addEventListener("DOMContentLoaded", nestedRowsToggleAll);
document.addEventListener("formset:added", nestedRowsToggleAll);

// Amounts are typed in the chosen pricing unit's display unit: "$" for USD (cents), else the
// unit's own name. Choosing another unit relabels the money boxes of the same rate or term.
document.addEventListener("change", function (event) {
    const select = event.target;
    if (!select.matches || !select.matches("select[name$='credit_type']")) {
        return;
    }
    const option = select.options[select.selectedIndex];
    const name = option ? option.text : "";
    const symbol = name === "USD (cents)" || name === "" || name.startsWith("-") ? "$" : name;
    const scope = select.closest(".inline-related") || select.form || document;
    scope.querySelectorAll(".money-symbol").forEach(function (el) { el.textContent = symbol; });
});
