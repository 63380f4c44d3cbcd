"""The loader snippet a store pastes into every page (Connectif's current loader form)."""

from __future__ import annotations

from shopevents.jsoncodec import ascii_literal

_TEMPLATE = """<script async id="__cn_generic_script__{id_attr}">
!function(){{var i={id_js},u={src_js},w=window,d=document;
var c=w.connectif=w.connectif||{{}};c.managed=c.managed||{{_q:[],sendEvents:function(e,o){{var q=this._q;return new Promise(function(r){{q.push([e,o,r])}})}}}};
function l(){{if(!d.getElementById("__cn_client_script_"+i)){{var s=d.createElement("script");s.async=!0;s.src=u;s.id="__cn_client_script_"+i;d.body.appendChild(s)}}}}
"loading"===d.readyState?d.addEventListener("DOMContentLoaded",l):l()}}();
</script>"""


def _attr(value: str) -> str:
    return "".join(ch for ch in value if ch.isalnum() or ch in "-_")


def loader_snippet(store_id: str, base_url: str, *, mode: str | None = None) -> str:
    """The HTML to paste into every page of the store, just before `</body>` or in `<head>`.

    It loads `{base_url}/client-script/{store_id}` once the DOM is ready, never twice, and
    queues `connectif.managed.sendEvents` calls made before the script has arrived.
    `mode` ("tags" or "js") overrides the store's tag mode for the pages that use it.
    """
    src = f"{base_url.rstrip('/')}/client-script/{store_id}"
    if mode in ("tags", "js"):
        src += f"?mode={mode}"
    return _TEMPLATE.format(
        id_attr=_attr(store_id), id_js=ascii_literal(store_id), src_js=ascii_literal(src)
    )
