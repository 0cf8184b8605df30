// A small SVG line chart for docs/reliability.md: one panel per measured
// series (threads, RSS, fds) against the cycle number, drawn from the
// lifecycle part's samples. Text only, so the docs hold no binary images.

export interface Series {
  title: string;
  unit: string;
  xs: readonly number[];
  ys: readonly number[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The series as stacked panels of one SVG document, each with its y range from 0 to a little over its maximum. */
export function lineChartSvg(title: string, series: readonly Series[], width = 720, panelHeight = 150): string {
  const left = 70;
  const right = 20;
  const top = 30;
  const gap = 40;
  const h = top + series.length * (panelHeight + gap);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  series.forEach((s, k) => {
    const y0 = top + k * (panelHeight + gap) + 16;
    const plotW = width - left - right;
    const plotH = panelHeight - 20;
    const xmax = Math.max(1, ...s.xs);
    const ymax = Math.max(1, ...s.ys) * 1.15;
    const px = (x: number) => left + (x / xmax) * plotW;
    const py = (y: number) => y0 + plotH - (y / ymax) * plotH;
    out.push(`<text x="${left}" y="${y0 - 4}" font-weight="bold">${esc(s.title)} (${esc(s.unit)})</text>`);
    out.push(`<rect x="${left}" y="${y0}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
    for (let t = 0; t <= 4; t++) {
      const v = (ymax * t) / 4;
      out.push(`<line x1="${left}" x2="${left + plotW}" y1="${py(v).toFixed(1)}" y2="${py(v).toFixed(1)}" stroke="#eee"/>`);
      out.push(`<text x="${left - 6}" y="${(py(v) + 4).toFixed(1)}" text-anchor="end">${Math.round(v)}</text>`);
    }
    out.push(`<text x="${left}" y="${y0 + plotH + 14}">0</text><text x="${left + plotW}" y="${y0 + plotH + 14}" text-anchor="end">${xmax} cycles</text>`);
    const pts = s.xs.map((x, i) => `${px(x).toFixed(1)},${py(s.ys[i]!).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="#1f6feb" stroke-width="1.2" points="${pts}"/>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
