// Ask forms stream the answer as it is written (Server-Sent Events over fetch),
// then open the stored answer page. Without JavaScript the form posts as usual.
// The question box counts characters against the server's limit and says so
// before the server has to: nothing is cut, and a refused question stays.
(function () {
  "use strict";

  function number(n) { return n.toLocaleString("en-US"); }

  function counter(form) {
    var box = form.querySelector("textarea[name=question]");
    var note = form.querySelector(".counter");
    var max = parseInt(box && box.getAttribute("data-max"), 10);
    if (!box || !note || !max) return function () {};
    function update() {
      var length = box.value.trim().length;
      var over = length - max;
      note.classList.toggle("error", over > 0);
      if (over > 0) {
        note.textContent = number(length) + " characters: " + number(over) +
          " over the " + number(max) + "-character limit. Shorten the question to ask it.";
        box.setCustomValidity("The question is " + number(over) + " characters over the limit of " + number(max) + ".");
      } else {
        note.textContent = length ? number(length) + " / " + number(max) + " characters" : "Up to " + number(max) + " characters.";
        box.setCustomValidity("");
      }
    }
    box.addEventListener("input", update);
    update();
    return function (message) {
      note.classList.add("error");
      note.textContent = message;
    };
  }

  function parse(frame) {
    var event = "message", data = "";
    frame.split("\n").forEach(function (line) {
      if (line.indexOf("event: ") === 0) event = line.slice(7);
      else if (line.indexOf("data: ") === 0) data += line.slice(6);
    });
    return { event: event, data: data ? JSON.parse(data) : {} };
  }

  function marker(citation) {
    var a = document.createElement("a");
    a.className = "cite";
    a.href = "#";
    a.setAttribute("data-ordinal", citation.ordinal);
    a.title = citation.document_title + ": " + citation.cited_text;
    a.textContent = "[" + citation.ordinal + "]";
    return a;
  }

  function stream(form, output, refuse) {
    var button = form.querySelector("button[type=submit]");
    var body = new FormData(form);
    output.hidden = false;
    output.textContent = "";
    output.classList.add("busy");
    button.disabled = true;
    var text = document.createElement("span");
    output.appendChild(text);
    fetch(form.getAttribute("data-stream"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "text/event-stream" }
    }).then(function (response) {
      if (response.status === 400) {
        // Refused (too long, empty): say why and keep the question in the box.
        return response.json().then(function (body) {
          output.hidden = true;
          refuse(body.error || "The question was refused.");
        });
      }
      if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function handle(item) {
        if (item.event === "text") {
          text.textContent += item.data.text;
        } else if (item.event === "citation") {
          output.appendChild(marker(item.data));
          text = document.createElement("span");
          output.appendChild(text);
        } else if (item.event === "done") {
          window.location.href = form.getAttribute("data-answers") + item.data.answer_id + "/";
        }
      }
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffer += decoder.decode(chunk.value, { stream: true });
          var frames = buffer.split("\n\n");
          buffer = frames.pop();
          frames.forEach(function (frame) { if (frame.trim()) handle(parse(frame)); });
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      // Streaming failed (old proxy, network): fall back to the plain form post.
      form.submit();
    }).finally(function () {
      output.classList.remove("busy");
      button.disabled = false;
    });
  }

  document.querySelectorAll("form.ask").forEach(function (form) {
    var refuse = counter(form);
    var output = form.parentNode.querySelector("#stream");
    if (!form.hasAttribute("data-stream") || !output || !window.fetch || !window.ReadableStream) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      stream(form, output, refuse);
    });
  });
})();
