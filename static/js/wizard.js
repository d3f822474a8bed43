// The wizard's slug follows the project name until someone edits the slug by hand:
// <input data-slug-from="id_name">. The server makes the same slug from the name when it is left blank.
(function () {
  "use strict";

  function slugify(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 50).replace(/-+$/, "");
  }

  document.querySelectorAll("input[data-slug-from]").forEach(function (slug) {
    var name = document.getElementById(slug.getAttribute("data-slug-from"));
    if (!name) { return; }
    // Follow the name while the slug is empty or still what the name made.
    var following = slug.value === "" || slug.value === slugify(name.value);
    name.addEventListener("input", function () {
      if (following) { slug.value = slugify(name.value); }
    });
    slug.addEventListener("input", function () {
      following = slug.value === "" || slug.value === slugify(name.value);
    });
  });
})();
