const app = document.querySelector('#app');
if (app) app.textContent = 'runlake dashboard';

export {};
