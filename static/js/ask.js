// Ask forms stream the answer as it is written (Server-Sent Events over fetch),
// then open the stored answer page. Without JavaScript the form posts as usual.
(function () {
  "use strict";

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

  function stream(form, output) {
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

  document.querySelectorAll("form[data-stream]").forEach(function (form) {
    var output = form.parentNode.querySelector("#stream");
    if (!output || !window.fetch || !window.ReadableStream) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      stream(form, output);
    });
  });
})();
