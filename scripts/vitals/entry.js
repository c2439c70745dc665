// What tracker.js uses of web-vitals: the five metrics, nothing measured by hand.
export { onCLS, onFCP, onINP, onLCP, onTTFB } from 'web-vitals';
