extension DashboardAssets {
    /// The page script: live refresh of `<main>` on job events (the API's `/v1/events` as a
    /// summary a second, a refresh at most every second, none while a field is being edited),
    /// confirmations for `data-confirm` forms, and the live tail of a job's output. No inline
    /// script anywhere, so that the Content-Security-Policy can forbid it.
    static let script = #"""
    "use strict";
    (() => {
      const main = document.getElementById("main");

      // Forms that cancel or retry ask first.
      document.addEventListener("submit", (event) => {
        const form = event.target;
        if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
          event.preventDefault();
        }
      });

      // The output of a job, as it is written: `data-follow` names the API's log URL.
      let following = null;
      function follow(pre) {
        if (!pre || following === pre.dataset.follow) return;
        following = pre.dataset.follow;
        const decoder = new TextDecoder();
        fetch(pre.dataset.follow, { headers: { "Accept": "text/plain" } }).then(async (response) => {
          if (!response.ok || !response.body) {
            pre.textContent = "The output cannot be read (" + response.status + ").";
            return;
          }
          pre.textContent = "";
          const reader = response.body.getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
            pre.append(decoder.decode(value, { stream: true }));
            if (atEnd) pre.scrollTop = pre.scrollHeight;
          }
          pre.dataset.ended = "true";
        }).catch(() => { pre.dataset.ended = "true"; });
      }

      // The page again, its <main> swapped in: elements marked data-keep stay as they are.
      let busy = false, again = false, last = 0, timer = null;
      function editing() {
        const active = document.activeElement;
        return active && main.contains(active) && (active.tagName === "INPUT" || active.tagName === "SELECT");
      }
      async function refresh() {
        if (busy || editing()) { again = true; return; }
        busy = true; again = false; last = Date.now();
        try {
          const response = await fetch(location.href, { headers: { "Accept": "text/html" } });
          if (response.status === 401) { document.body.classList.add("signed-out"); return; }
          if (response.ok) {
            const page = new DOMParser().parseFromString(await response.text(), "text/html");
            const fresh = page.getElementById("main");
            if (fresh) {
              for (const kept of main.querySelectorAll("[data-keep][id]")) {
                const slot = fresh.querySelector("#" + CSS.escape(kept.id));
                if (slot) slot.replaceWith(kept);
              }
              main.replaceChildren(...fresh.childNodes);
              document.title = page.title;
              follow(main.querySelector("pre[data-follow]"));
            }
          }
        } finally {
          busy = false;
          if (again) schedule();
        }
      }
      function schedule() {
        if (timer) return;
        timer = setTimeout(() => { timer = null; refresh(); }, Math.max(0, 1000 - (Date.now() - last)));
      }
      main.addEventListener("focusout", () => { if (again) schedule(); });

      follow(document.querySelector("pre[data-follow]"));
      if (main.hasAttribute("data-live") && window.EventSource) {
        // A summary of the changes at most once a second; a job's page looks again only when
        // that job is among them.
        const events = new EventSource("/api/v1/events?every=1");
        events.addEventListener("changes", (event) => {
          const watched = main.querySelector("[data-job-id]");
          if (watched) {
            const changes = JSON.parse(event.data);
            if (!changes.more_ids && !changes.ids.includes(Number(watched.dataset.jobId))) return;
          }
          schedule();
        });
        events.addEventListener("error", () => {
          if (events.readyState === EventSource.CLOSED) document.body.classList.add("signed-out");
        });
        // Once connected (and after each reconnection), the page again: what changed between
        // its rendering and the stream's start would otherwise wait for the next event.
        let opened = false;
        document.body.dataset.live = "connecting";
        events.addEventListener("open", () => {
          document.body.dataset.live = "on";
          if (opened) schedule(); else refresh();
          opened = true;
        });
      }
    })();
    """#
}
