/* Progressive enhancement of the digest change page; everything works without it.
 *
 * - Items: up/down buttons and a drag handle on each item; moving an item renumbers
 *   the position fields of its category in page order, which the server saves.
 * - Compact: each item collapses to its one-line title (a long issue opens
 *   collapsed, except items with errors), "collapse all"/"expand all" turn the
 *   list into an outline of the issue; a collapsed item is dragged by any part
 *   of it, an open one by its handle or its title bar.
 * - Key points: the one-point-per-line textarea becomes one input per point with
 *   "add point" and "remove"; every edit is written back into the textarea.
 *   Pasting several lines into a point makes one point per line ("- " bullets
 *   and the like stripped, as the server does).
 * - Source: pasting "[name](https://…)" into the source name or link fills both.
 */
(function () {
  "use strict";

  function itemRows(group) {
    return Array.prototype.filter.call(group.querySelectorAll(".inline-related"), function (row) {
      return !row.classList.contains("empty-form") && row.querySelector("input.item-position");
    });
  }

  function categoryOf(row) {
    var select = row.querySelector("select[name$='-category']");
    return select ? select.value : "";
  }

  function renumber(group, category) {
    var position = 0;
    itemRows(group).forEach(function (row) {
      if (categoryOf(row) === category) {
        row.querySelector("input.item-position").value = position++;
      }
    });
    group.dispatchEvent(new CustomEvent("digest:reordered", {bubbles: true}));
  }

  function neighbour(group, row, step) {
    var same = itemRows(group).filter(function (other) { return categoryOf(other) === categoryOf(row); });
    return same[same.indexOf(row) + step] || null;
  }

  function move(group, row, step) {
    var other = neighbour(group, row, step);
    if (!other) { return; }
    other.parentNode.insertBefore(row, step < 0 ? other : other.nextSibling);
    renumber(group, categoryOf(row));
  }

  function button(label, text, className) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.title = label;
    b.setAttribute("aria-label", label);
    if (className) { b.className = className; }
    return b;
  }

  var dragged = null;
  var COMPACT_FROM = 5;
  // The bullets the server strips too (digest_forms._BULLETS).
  var BULLET = /^\s*(?:[-*•]\s+|・\s*)/;
  var SOURCE_LINK = /^\s*\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)\s*$/;

  function pastedText(event) {
    return (event.clipboardData || window.clipboardData).getData("text");
  }

  function pastedPoints(text) {
    return text.split(/\r?\n/).map(function (line) { return line.replace(BULLET, "").trim(); })
      .filter(function (line) { return line; });
  }

  function enhanceSource(root) {
    root.querySelectorAll("input[name$='-source_name'], input[name$='-source_url']").forEach(function (input) {
      if (input.dataset.pasteAware || input.closest(".empty-form")) { return; }
      input.dataset.pasteAware = "1";
      input.addEventListener("paste", function (event) {
        var match = SOURCE_LINK.exec(pastedText(event));
        if (!match) { return; }
        event.preventDefault();
        var prefix = input.name.replace(/source_(name|url)$/, "");
        var form = input.form;
        form.elements[prefix + "source_name"].value = match[1].trim();
        form.elements[prefix + "source_url"].value = match[2];
        [form.elements[prefix + "source_name"], form.elements[prefix + "source_url"]].forEach(function (field) {
          field.dispatchEvent(new Event("input", {bubbles: true}));
        });
      });
    });
  }

  function setCollapsed(row, collapsed) {
    row.classList.toggle("item-collapsed", collapsed);
    row.draggable = collapsed;
    var toggle = row.querySelector(".item-toggle");
    if (toggle) {
      toggle.setAttribute("aria-expanded", collapsed ? "false" : "true");
      toggle.textContent = collapsed ? "▸" : "▾";
    }
  }

  function addCollapseAll(group) {
    if (group.querySelector(".items-collapse-all")) { return; }
    var bar = document.createElement("p");
    bar.className = "items-outline-controls";
    var collapse = button(group.dataset.collapseAll, group.dataset.collapseAll, "items-collapse-all");
    var expand = button(group.dataset.expandAll, group.dataset.expandAll, "items-expand-all");
    collapse.addEventListener("click", function () { itemRows(group).forEach(function (row) { setCollapsed(row, true); }); });
    expand.addEventListener("click", function () { itemRows(group).forEach(function (row) { setCollapsed(row, false); }); });
    bar.appendChild(collapse);
    bar.appendChild(expand);
    var heading = group.querySelector(".inline-heading");
    var help = group.querySelector(".digest-items-help");
    (help || heading).insertAdjacentElement("afterend", bar);
  }

  function addToggle(group, row, slot) {
    var toggle = button(group.dataset.toggle, "▾", "item-toggle");
    toggle.addEventListener("click", function () { setCollapsed(row, !row.classList.contains("item-collapsed")); });
    slot.appendChild(toggle);
    var label = row.querySelector(".inline_label");
    var title = row.querySelector("input[name$='-title']");
    if (label && title) {
      title.addEventListener("input", function () { if (title.value.trim()) { label.textContent = title.value.trim(); } });
    }
  }

  function addOrderControls(group, row, startCollapsed) {
    var slot = row.querySelector(".item-order-controls");
    if (!slot || slot.childElementCount || !row.querySelector("input.item-position")) { return; }
    addToggle(group, row, slot);
    // A span, not a button: Chromium never starts a drag from a button. Keyboard
    // users have the arrow buttons.
    var handle = document.createElement("span");
    handle.className = "item-drag-handle";
    handle.textContent = "⠿";
    handle.title = group.dataset.drag;
    handle.setAttribute("aria-hidden", "true");
    var up = button(group.dataset.moveUp, "↑", "item-move-up");
    var down = button(group.dataset.moveDown, "↓", "item-move-down");
    up.addEventListener("click", function () { move(group, row, -1); up.focus(); });
    down.addEventListener("click", function () { move(group, row, 1); down.focus(); });
    // An open item is dragged by its handle or title bar only, so text in its
    // fields stays selectable; a collapsed item (one line) by any part of it.
    handle.addEventListener("mousedown", function () { row.draggable = true; });
    row.querySelector("h3").addEventListener("mousedown", function (event) {
      if (!event.target.closest("button, input, label, a")) { row.draggable = true; }
    });
    row.addEventListener("mouseup", function () { row.draggable = row.classList.contains("item-collapsed"); });
    row.addEventListener("dragstart", function (event) {
      dragged = row;
      row.classList.add("item-dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", row.id);
    });
    row.addEventListener("dragend", function () {
      row.draggable = row.classList.contains("item-collapsed");
      row.classList.remove("item-dragging");
      dragged = null;
    });
    row.addEventListener("dragover", function (event) {
      if (dragged && dragged !== row && categoryOf(dragged) === categoryOf(row)) {
        event.preventDefault();
        row.classList.add("item-drop-target");
      }
    });
    row.addEventListener("dragleave", function () { row.classList.remove("item-drop-target"); });
    row.addEventListener("drop", function (event) {
      row.classList.remove("item-drop-target");
      if (!dragged || dragged === row || categoryOf(dragged) !== categoryOf(row)) { return; }
      event.preventDefault();
      var box = row.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      row.parentNode.insertBefore(dragged, after ? row.nextSibling : row);
      renumber(group, categoryOf(row));
    });
    slot.appendChild(handle);
    slot.appendChild(up);
    slot.appendChild(down);
    setCollapsed(row, startCollapsed && !row.querySelector(".errorlist li"));
  }

  function enhanceKeyPoints(textarea) {
    if (textarea.dataset.enhanced || textarea.closest(".empty-form")) { return; }
    textarea.dataset.enhanced = "1";
    var list = document.createElement("ol");
    list.className = "key-point-list";
    var add = button(textarea.dataset.addLabel, textarea.dataset.addLabel, "key-point-add");

    function inputs() { return Array.prototype.slice.call(list.querySelectorAll("input")); }

    function sync() {
      textarea.value = inputs().map(function (input) { return input.value.trim(); })
        .filter(function (value) { return value; }).join("\n");
    }

    function addPoint(value, before) {
      var li = document.createElement("li");
      var input = document.createElement("input");
      input.type = "text";
      input.className = "vTextField key-point";
      input.value = value;
      input.setAttribute("aria-label", textarea.dataset.pointLabel);
      input.addEventListener("input", sync);
      input.addEventListener("paste", function (event) {
        var points = pastedPoints(pastedText(event));
        if (points.length < 2 && !BULLET.test(pastedText(event))) { return; }
        event.preventDefault();
        if (!points.length) { return; }
        var before = input.value.slice(0, input.selectionStart);
        var after = input.value.slice(input.selectionEnd);
        input.value = (before + points[0]).trim();
        var next = li.nextSibling;
        var last = input;
        points.slice(1).forEach(function (point) { last = addPoint(point, next); });
        last.value = (last.value + after).trim();
        sync();
        last.focus();
      });
      input.addEventListener("keydown", function (event) {
        // Enter would submit the whole form; here it means "next point".
        if (event.key === "Enter") {
          event.preventDefault();
          addPoint("", li.nextSibling).focus();
        }
      });
      var remove = button(textarea.dataset.removeLabel, "✕", "key-point-remove");
      remove.addEventListener("click", function () { li.remove(); sync(); });
      li.appendChild(input);
      li.appendChild(remove);
      list.insertBefore(li, before || null);
      return input;
    }

    textarea.value.split(/\r?\n/).forEach(function (line) {
      if (line.trim()) { addPoint(line.trim()); }
    });
    if (!list.childElementCount) { addPoint(""); }
    add.addEventListener("click", function () { addPoint("").focus(); });
    var editor = document.createElement("div");
    editor.className = "key-point-editor";
    editor.appendChild(list);
    editor.appendChild(add);
    textarea.hidden = true;
    textarea.parentNode.insertBefore(editor, textarea.nextSibling);
  }

  function enhance(root) {
    root.querySelectorAll("textarea[data-key-points]").forEach(enhanceKeyPoints);
    enhanceSource(root);
    document.querySelectorAll(".digest-items").forEach(function (group) {
      var rows = itemRows(group);
      if (!rows.length) { return; }
      addCollapseAll(group);
      // A long issue opens as its outline; new items (added one at a time) open.
      var compact = root === document && rows.length > COMPACT_FROM;
      rows.forEach(function (row) { addOrderControls(group, row, compact); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("formset:added", function (event) { enhance(event.target); });
})();
