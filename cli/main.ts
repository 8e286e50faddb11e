// placeholder, replaced below
console.log('tapwire');
