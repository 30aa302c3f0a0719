// A contract form's billing provider configuration follows its customer field: when another
// customer is chosen, the list is refilled with that customer's active configurations, read from
// the admin (select[data-configurations-url]; customers/forms.py offer_billing_configurations).
"use strict";
(function () {
    function refill(select, customerId) {
        const chosen = select.value;
        const blank = new Option("---------", "");
        if (!customerId) {
            select.replaceChildren(blank);
            return;
        }
        const url = select.dataset.configurationsUrl + "?customer=" + encodeURIComponent(customerId);
        fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
            .then(function (response) {
                return response.ok ? response.json() : {results: []};
            })
            .then(function (data) {
                const options = data.results.map(function (config) {
                    return new Option(config.text, config.id, false, config.id === chosen);
                });
                select.replaceChildren(blank, ...options);
                select.dispatchEvent(new Event("change", {bubbles: true}));
            });
    }

    function setUp() {
        document.querySelectorAll("select[data-configurations-url]").forEach(function (select) {
            const customer = select.form && select.form.elements[select.dataset.customerField];
            if (!customer) {
                return;
            }
            const follow = function () {
                refill(select, customer.value);
            };
            // The admin's autocomplete (select2) announces a choice through jQuery only.
            if (window.django && window.django.jQuery) {
                window.django.jQuery(customer).on("change", follow);
            } else {
                customer.addEventListener("change", follow);
            }
        });
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", setUp);
    } else {
        setUp();
    }
})();
