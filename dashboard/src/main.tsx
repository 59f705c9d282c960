import { render } from 'preact';
import { App } from './app';
import { startAuth } from './auth';
import './styles.css';

startAuth();
const root = document.getElementById('app');
if (root) render(<App />, root);
