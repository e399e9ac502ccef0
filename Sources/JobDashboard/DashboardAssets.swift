import HTTPTypes
import Hummingbird
import JobBasics

/// The dashboard's style sheet and script, compiled into jobqd (nothing is read from disk or
/// fetched from elsewhere), served under `/assets/`.
enum DashboardAssets {
    /// Changes with each release, so that a browser never keeps an old asset after an upgrade.
    static let version = JobqVersion.current

    /// The asset at `name`, or nil.
    static func response(_ name: String) -> Response? {
        let (body, type): (String, String)
        switch name {
        case "dashboard.css": (body, type) = (style, "text/css; charset=utf-8")
        case "dashboard.js": (body, type) = (script, "text/javascript; charset=utf-8")
        case "icon.svg": (body, type) = (icon, "image/svg+xml")
        default: return nil
        }
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "private, max-age=86400"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The tab's icon: three stacked bars, a queue.
    static let icon = """
    <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0b5cad"/>\
    <rect x="3" y="3.5" width="10" height="2" fill="#fff"/><rect x="3" y="7" width="10" height="2" fill="#fff"/>\
    <rect x="3" y="10.5" width="6" height="2" fill="#fff"/></svg>
    """

    /// Plain CSS: the system's fonts, light and dark schemes from `prefers-color-scheme`, tables
    /// that scroll sideways on a phone rather than overflow the page.
    static let style = """
    :root {
      --bg: #ffffff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --panel: #f6f8fa;
      --accent: #0b5cad; --ok: #1a7f37; --bad: #b42318; --warn: #8a5a00; --run: #0b5cad;
      font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.45;
    }
    @media (prefers-color-scheme: dark) {
      :root {
        --bg: #0d1117; --fg: #e6edf3; --muted: #9da7b3; --line: #30363d; --panel: #161b22;
        --accent: #58a6ff; --ok: #3fb950; --bad: #ff7b72; --warn: #d29922; --run: #58a6ff;
      }
    }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--fg); }
    a { color: var(--accent); }
    a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
    header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem;
      border-bottom: 1px solid var(--line); background: var(--panel); }
    .brand { font-weight: 700; font-size: 1.2rem; text-decoration: none; color: var(--fg); }
    nav { display: flex; gap: 1rem; }
    nav a { text-decoration: none; padding: .2rem 0; }
    nav a[aria-current="page"] { font-weight: 700; border-bottom: 2px solid var(--accent); }
    .account { margin-left: auto; display: flex; align-items: center; gap: .6rem; color: var(--muted); }
    .account form { margin: 0; }
    main { padding: 1rem; max-width: 80rem; margin: 0 auto; }
    h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
    h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
    .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(9rem, 1fr)); gap: .6rem; margin: 0; }
    .card { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; background: var(--panel); }
    .card dt { color: var(--muted); font-size: .85rem; }
    .card dd { margin: 0; font-size: 1.5rem; font-variant-numeric: tabular-nums; }
    .scroll { overflow-x: auto; }
    table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
    th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
    th { color: var(--muted); font-weight: 600; font-size: .9rem; }
    td.num, th.num { text-align: right; }
    td.command { font-family: ui-monospace, monospace; font-size: .9rem; max-width: 32rem; overflow-wrap: anywhere; }
    .state { font-weight: 600; }
    .state-succeeded { color: var(--ok); } .state-failed { color: var(--bad); }
    .state-running { color: var(--run); } .state-cancelled, .state-blocked { color: var(--warn); }
    .state-queued { color: var(--muted); }
    button, input, select { font: inherit; color: inherit; }
    button { border: 1px solid var(--line); background: var(--panel); border-radius: 6px; padding: .25rem .7rem; cursor: pointer; }
    button.danger { border-color: var(--bad); color: var(--bad); }
    button.quiet { background: transparent; }
    input, select { border: 1px solid var(--line); background: var(--bg); border-radius: 6px; padding: .25rem .4rem; }
    input[type="number"] { width: 5.5rem; }
    form.inline { display: inline-flex; gap: .4rem; align-items: center; margin: 0; }
    form.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin-bottom: 1rem; }
    form.filters label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); gap: .15rem; }
    .pager { display: flex; gap: 1rem; margin: 1rem 0; }
    .actions { display: flex; flex-wrap: wrap; gap: .6rem; margin: .5rem 0 1rem; }
    dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0; }
    dl.facts dt { color: var(--muted); }
    dl.facts dd { margin: 0; overflow-wrap: anywhere; }
    .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 26rem), 1fr)); gap: .8rem; }
    figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; }
    figure.chart figcaption { font-weight: 600; }
    figure.chart svg { width: 100%; height: 7rem; display: block; margin: .3rem 0; }
    figure.chart polyline { fill: none; stroke-width: 2; }
    figure.chart line.grid { stroke: var(--line); stroke-dasharray: 4 4; }
    .line-queued { stroke: var(--warn); } .line-running, .line-p50 { stroke: var(--run); }
    .line-finished { stroke: var(--ok); } .line-failed, .line-p99 { stroke: var(--bad); } .line-p90 { stroke: var(--muted); }
    .legend { display: flex; flex-wrap: wrap; gap: .2rem 1rem; font-size: .85rem; }
    .key::before { content: ""; display: inline-block; width: .8rem; height: .2rem; margin-right: .3rem; vertical-align: middle; background: var(--muted); }
    .key-queued::before { background: var(--warn); } .key-running::before, .key-p50::before { background: var(--run); }
    .key-finished::before { background: var(--ok); } .key-failed::before, .key-p99::before { background: var(--bad); }
    .scale { display: flex; justify-content: space-between; font-size: .75rem; color: var(--muted); }
    pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .6rem; overflow: auto;
      max-height: 28rem; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85rem; }
    .problem { border-left: 4px solid var(--bad); padding: .4rem .8rem; background: var(--panel); }
    .muted { color: var(--muted); }
    body.signed-out::before { content: "Signed out or disconnected: run jobq dashboard for a new link."; display: block;
      background: var(--bad); color: #fff; padding: .4rem 1rem; }
    @media (max-width: 40rem) {
      main { padding: .6rem; }
      header.top { padding: .5rem .6rem; }
      .account { margin-left: 0; }
      th, td { padding: .3rem .4rem; }
    }
    """
}
