/// The inline stylesheet and script of the HTML report, kept apart from the code that lays it out.
enum HTMLReportAssets {
    static let css = """
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:20px 28px;color:#1d2430;background:#fff}
        h1{font-size:22px;margin:0 0 10px}h1 .file{font-weight:400;color:#555;font-family:ui-monospace,monospace;font-size:17px}
        h2{font-size:17px;margin:26px 0 4px}
        .banner{font-size:20px;font-weight:700;padding:12px 16px;border-radius:6px;margin:8px 0 12px;color:#fff}
        .banner.valid{background:#2e7d32}.banner.invalid{background:#c62828}.banner.unknown{background:#757575}
        .intro,.explain{max-width:1100px;line-height:1.45}.hint{color:#666;font-size:13px;margin:2px 0 6px}
        .explain.bad{border-left:5px solid #c62828;background:#fdf1f1;padding:6px 14px}
        table.facts td,table.facts th{padding:2px 14px 2px 0;text-align:left;font-size:14px}table.facts th{color:#666;font-weight:500}
        table.prefix{border-collapse:collapse;font-size:13px;margin:6px 0}table.prefix td,table.prefix th{border-bottom:1px solid #e3e3e3;padding:2px 10px;text-align:left}
        table.prefix tr.failrow{background:#ffd9d9;font-weight:600}
        code{font-family:ui-monospace,Menlo,monospace;font-size:12.5px;background:#f2f4f7;padding:0 3px;border-radius:3px}
        .legend{display:flex;flex-wrap:wrap;gap:18px;font-size:13px;margin:4px 0 8px}.legend span{display:flex;align-items:center;gap:6px}
        .sw{display:inline-block;width:26px;height:12px;border-radius:2px}
        .sw.ok{background:#66bb6a}.sw.fail{background:#ef9a9a}.sw.info{background:#ffcc80}
        .sw.nem{background:rgba(120,120,120,.22)}.sw.lin{background:#66bb6a;outline:2px solid #1565c0}.sw.bad{background:#66bb6a;outline:3px solid #d50000}
        .tl{display:flex;border:1px solid #ddd;border-radius:4px}.scroll{overflow-x:auto;flex:1}.labels text{font-size:11px;fill:#444}
        #timeline text{font-size:10.5px;font-family:ui-monospace,Menlo,monospace;pointer-events:none}
        #timeline .proc{font-size:11px;fill:#444;font-family:system-ui,sans-serif}
        .stripe{fill:#f6f7f9}.nemesis{fill:rgba(120,120,120,.18)}.nemlabel{fill:#555;font-style:italic}
        .op rect{stroke:#fff;stroke-width:.5}.op.ok rect{fill:#66bb6a}.op.fail rect{fill:#ef9a9a}.op.info rect{fill:#ffcc80}
        .op.lin rect{stroke:#1565c0;stroke-width:2}.op.bad rect{stroke:#d50000;stroke-width:3.5}#timeline .badlabel{font-weight:700;fill:#b00000;font-size:12px}.badback{fill:#fff;stroke:#d50000;stroke-width:1}
        .op.dim{opacity:.38}.op:hover rect{stroke:#000;stroke-width:2}.infotick{stroke:#e65100;stroke-width:2}
        .plot{display:block;background:#fff}.plot .axis{stroke:#333}.plot .grid{stroke:#eee}.plot .tick{font-size:11px;fill:#555}
        .plot .axislabel{font-size:12px;fill:#333}.pt{opacity:.75}.pt.ok{fill:#2e7d32}.pt.fail{fill:#e53935}.pt.info{fill:#fb8c00}.pt.legend{fill:#555}
        .line{fill:none;stroke-width:2}.line.ok{stroke:#2e7d32}.line.fail{stroke:#e53935}.line.info{stroke:#fb8c00}
        #tip{position:fixed;display:none;background:#1d2430;color:#fff;padding:8px 10px;border-radius:5px;font-size:12.5px;line-height:1.5;pointer-events:none;max-width:420px;z-index:9}
        #tip code{background:#38425a;color:#fff}
        """

    static let script = """
        const tip=document.getElementById('tip');
        const esc=s=>String(s).replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
        document.getElementById('timeline').addEventListener('mousemove',e=>{
          const g=e.target.closest('g.op');if(!g){tip.style.display='none';return;}
          const o=OPS[g.dataset.op];
          let h='<b>#'+o.id+'</b> process '+o.p+' · <b>'+o.o+'</b><br><code>'+esc(o.d)+'</code><br>history line '+o.line+(o.cline?' → '+o.cline:' (never answered)');
          if(o.lat)h+='<br>latency '+esc(o.lat);if(o.err)h+='<br>error <code>'+esc(o.err)+'</code>';
          if(o.ord)h+='<br>linearized as no. '+o.ord+'<br>state before <code>'+esc(o.sb)+'</code><br>state after <code>'+esc(o.sa)+'</code>';
          else if(o.bad!==undefined)h+='<br><b>cannot be linearized</b>: every consistent order leaves the state at <code>'+esc(o.bad)+'</code>, where this result is impossible';
          else if(o.o==='fail')h+='<br>not checked: a failed operation did not happen';
          else h+='<br>not in the linearization shown';
          tip.innerHTML=h;tip.style.display='block';
          tip.style.left=Math.min(e.clientX+14,innerWidth-440)+'px';tip.style.top=(e.clientY+14)+'px';});
        document.getElementById('timeline').addEventListener('mouseleave',()=>tip.style.display='none');
        const bad=document.querySelector('g.op.bad rect');
        if(bad){const box=document.querySelector('.scroll');box.scrollLeft=Math.max(0,+bad.getAttribute('x')-box.clientWidth*0.6);}
        """
}
